"""What a pruning run did (`PruneOutcome`), which modules it leaves alone, and a sweep's requests; what it
was asked is `configs.Prune`.

The methods themselves: `channel_pruning` (structured) and `weight_pruning` (unstructured);
`prune` runs them on a model, with fine-tuning, and records the result.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from torch import nn

from compressor.core.errors import OptionError, UnknownNameError
from compressor.methods.configs import Prune

PRUNABLE = (nn.Conv2d, nn.Linear)


@dataclass
class PruneOutcome:
    """What pruning did, for the report's `pruning` block."""

    request: Prune
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


def sweep_requests(request: Prune, levels: list[float], by: str) -> list[Prune]:
    """One request per sweep level, the level taking the place of the sparsity or the threshold."""
    if by not in ("sparsity", "threshold"):
        raise UnknownNameError(f"unknown --sweep-by {by!r}; choose sparsity or threshold")
    if request.pattern is not None or request.sparsity is not None or request.threshold is not None:
        raise OptionError("--sweep gives the levels itself: leave out --sparsity, --threshold and --pattern")
    base = request.model_copy(update={"sparsity": None, "threshold": None})
    return [base.model_copy(update={by: level}) for level in levels]
