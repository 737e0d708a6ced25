"""What a pruning run was asked (`PruneRequest`, checked before any work) and what it did (`PruneOutcome`).

The methods themselves: `channel_pruning` (structured) and `weight_pruning` (unstructured);
`prune` runs them on a model, with fine-tuning, and records the result.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field

from torch import nn

from compressor.core.errors import OptionError, UnknownNameError

NORMS = {"l1": 1, "l2": 2}
PATTERNS = ("2:4",)
PRUNABLE = (nn.Conv2d, nn.Linear)


@dataclass(frozen=True)
class PruneRequest:
    """What the user asked for (the CLI's options)."""

    sparsity: float | None = None
    threshold: float | None = None
    structured: bool = True
    pattern: str | None = None  # "2:4": semi-structured (unstructured only)
    norm: str = "l2"
    global_ranking: bool = False
    ignore: tuple[str, ...] = ()  # module names (and everything under them) left untouched
    # onnxruntime's x86 convolutions work on blocks of 16 channels (NCHWc, AVX-512): mobilenet_v2 at
    # 50% ran 1.82x the unpruned speed with multiples of 8 and 1.89x with 16 (64x64, batch 1).
    round_to: int = 16
    steps: int = 1
    finetune_epochs: int = 0
    distill: bool = False
    residual_width: bool = False  # attention models: the width every block shares too (see channel_pruning)
    whole_heads: bool = False  # HF attention (attention_heads.LAYOUTS), torch's with residual_width: whole heads

    def check(self) -> None:
        """Contradictory or out-of-range options, in words, before any work starts."""
        given = [name for name in ("sparsity", "threshold", "pattern") if getattr(self, name) is not None]
        if len(given) != 1:
            raise OptionError("give exactly one of --sparsity S, --threshold T or --pattern 2:4")
        if self.sparsity is not None and not 0.0 <= self.sparsity < 1.0:
            raise OptionError(f"--sparsity is a fraction in [0, 1); got {self.sparsity}")
        if self.threshold is not None and self.threshold < 0.0:
            raise OptionError(f"--threshold is a multiple of a layer's mean magnitude (>= 0); got {self.threshold}")
        if self.pattern is not None and (self.pattern not in PATTERNS or self.structured):
            raise OptionError(f"--pattern takes {', '.join(PATTERNS)} and goes with --unstructured")
        if self.norm not in NORMS:
            raise UnknownNameError(f"unknown --norm {self.norm!r}; choose from {', '.join(NORMS)}")
        if self.residual_width and not self.structured:
            raise OptionError("--residual-width removes whole channels: it goes with --structured")
        if self.whole_heads and not self.structured:
            raise OptionError("--whole-heads removes whole attention heads: it goes with --structured")
        if self.round_to < 1 or self.steps < 1 or self.finetune_epochs < 0:
            raise OptionError("--round-to and --steps are at least 1, --finetune-epochs at least 0")

    @property
    def level(self) -> float:
        """The amount asked for, as one number (the sweep's x axis)."""
        if self.sparsity is not None:
            return self.sparsity
        return self.threshold if self.threshold is not None else 0.5  # 2:4 keeps half


@dataclass
class PruneOutcome:
    """What pruning did, for the report's `pruning` block."""

    request: PruneRequest
    pruned_layers: list[str] = field(default_factory=list)
    channels: dict[str, tuple[int, int]] = field(default_factory=dict)  # structured: layer -> (before, after)
    # structured, attention whose heads changed: module -> ((heads, head size) before, after)
    attention_heads: dict[str, tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=dict)
    sparsity: float | None = None  # unstructured: zero fraction of the pruned layers' weights

    def summary(self) -> dict[str, object]:
        request = self.request
        return {
            "mode": "structured" if request.structured else "unstructured",
            "sparsity_requested": request.sparsity,
            "threshold": request.threshold,
            "pattern": request.pattern,
            "norm": request.norm,
            "global_ranking": request.global_ranking,
            "round_to": request.round_to if request.structured else None,
            "steps": request.steps,
            "finetune_epochs": request.finetune_epochs,
            "distill": request.distill,
            "residual_width": request.residual_width if request.structured else None,
            "whole_heads": request.whole_heads if request.structured else None,
            "ignored": list(request.ignore),
            "pruned_layers": len(self.pruned_layers),
            "channels": {name: list(counts) for name, counts in self.channels.items()},
            "attention_heads": {
                name: {"heads": [before[0], after[0]], "head_size": [before[1], after[1]]}
                for name, (before, after) in self.attention_heads.items()
            },
            "sparsity": self.sparsity,
        }


def ignored_modules(module: nn.Module, num_classes: int, names: tuple[str, ...]) -> list[nn.Module]:
    """The classifier (its outputs are the classes), what the model declares unprunable (a detector's
    heads, via `unprunable_modules()`), and every module under the names the user gave."""
    modules = dict(module.named_modules())
    ignored = [m for m in modules.values() if isinstance(m, nn.Linear) and m.out_features == num_classes]
    declared = getattr(module, "unprunable_modules", None)
    if callable(declared):
        ignored += declared()
    for name in names:
        if name not in modules:
            close = difflib.get_close_matches(name, list(modules), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownNameError(f"--ignore {name!r} is not a module of the model{hint}")
        ignored += list(modules[name].modules())
    return ignored


def sweep_requests(request: PruneRequest, levels: list[float], by: str) -> list[PruneRequest]:
    """One request per sweep level, the level taking the place of the sparsity or the threshold."""
    if by not in ("sparsity", "threshold"):
        raise UnknownNameError(f"unknown --sweep-by {by!r}; choose sparsity or threshold")
    if request.pattern is not None or request.sparsity is not None or request.threshold is not None:
        raise OptionError("--sweep gives the levels itself: leave out --sparsity, --threshold and --pattern")
    base = dataclasses.replace(request, sparsity=None, threshold=None)
    return [dataclasses.replace(base, **{by: level}) for level in levels]
