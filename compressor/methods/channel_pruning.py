"""Structured pruning: whole output channels removed, so the model is really smaller and faster.

Channels are ranked by their group magnitude (L1 or L2 over every tensor coupled to the channel:
torch-pruning's dependency graph keeps residual adds, depthwise convolutions, concatenations and
BatchNorms consistent). Each channel's score is divided by its group's mean, so a threshold is
scale-free: 0.5 removes channels with less than half their layer's mean magnitude. A sparsity removes
that fraction of each group's channels, or of all channels ranked together (global ranking).
Attention projections lose the same channels from every head, or (`whole_heads`) whole heads; torch's
nn.MultiheadAttention ties its heads to the residual width, so there whole heads go with it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch_pruning as tp
from torch import nn
from torchvision.models.vision_transformer import VisionTransformer

from compressor.core.errors import ModelMismatchError, brief
from compressor.methods.attention_heads import head_count, head_shape, head_split_layout, sync_heads
from compressor.methods.configs import NORMS, Prune
from compressor.methods.memory_ceiling import GIB, growth_allowance, memory_ceiling
from compressor.methods.prune_options import PRUNABLE, PruneOutcome

# In attention models the residual width couples every block (LayerNorm, attention projections,
# embeddings): by default only groups that touch none of these, i.e. the MLPs' hidden widths, are
# pruned; with `residual_width`, the residual group too where its attention is torch's own.
RESIDUAL_COUPLED = (nn.MultiheadAttention, nn.LayerNorm, nn.Embedding)


class _WholeHeadsAttentionPruner(tp.pruner.function.MultiheadAttentionPruner):
    """torch-pruning's nn.MultiheadAttention pruner, removing whole heads: the head count drops and the
    head size stays (the stock one keeps the head count and narrows every head, and refuses a removal
    that leaves the width not a multiple of the head count)."""

    def check(self, layer: nn.MultiheadAttention, idxs: list[int], to_output: bool) -> None:
        assert len(idxs) % layer.head_dim == 0, f"whole heads of {layer.head_dim} channels, not {len(idxs)} channels"

    def prune_out_channels(self, layer: nn.MultiheadAttention, idxs: list) -> nn.Module:
        head_dim = layer.head_dim
        super().prune_out_channels(layer, idxs)
        layer.num_heads, layer.head_dim = layer.embed_dim // head_dim, head_dim
        return layer

    prune_in_channels = prune_out_channels


def _channel_counts(module: nn.Module) -> dict[str, int]:
    return {
        name: m.out_channels if isinstance(m, nn.Conv2d) else m.out_features
        for name, m in module.named_modules()
        if isinstance(m, PRUNABLE)
    }


def _head_shapes(module: nn.Module) -> dict[str, tuple[int, int]]:
    """Each attention module's (head count, head size)."""
    shapes = {name: head_shape(sub) for name, sub in module.named_modules()}
    return {name: shape for name, shape in shapes.items() if shape is not None}


def _kept_count(total: int, remove: int, round_to: int) -> int:
    """Channels left after removing `remove` of `total`, rounded up to a multiple of `round_to`, never zero."""
    kept = max(total - remove, 1)
    return min(total, max(round_to, math.ceil(kept / round_to) * round_to))


def _removal(
    scores: list[torch.Tensor], original: list[int], request: Prune, fraction: float, threshold: float | None
) -> list[int]:
    """How many channels each group loses: those below the threshold, or what brings it (or, with
    global ranking, all groups together) to `fraction` of the original width removed."""
    if threshold is not None:
        return [int((s < threshold).sum()) for s in scores]
    if not request.global_ranking:
        return [max(0, len(s) - math.ceil(width * (1.0 - fraction))) for s, width in zip(scores, original, strict=True)]
    already = sum(original) - sum(len(s) for s in scores)
    count = int(fraction * sum(original)) - already
    if count <= 0:
        return [0 for _ in scores]
    cutoff = torch.cat(scores).kthvalue(count).values
    return [int((s <= cutoff).sum()) for s in scores]


@dataclass(frozen=True)
class _ScoredGroup:
    """A channel group ready to prune: its root layer and handler, channel scores, and how heads split it."""

    root: nn.Module
    handler: Callable
    scores: torch.Tensor
    heads: int  # attention heads splitting the channels into equal blocks (1: none)
    whole_heads: bool  # remove whole heads (blocks) instead of the same channels from every head
    channel_groups: int = 1  # a grouped convolution's (or GroupNorm's) blocks: each loses the same channels

    @property
    def removal_scores(self) -> torch.Tensor:
        """Per channel; with whole heads, each channel carries its head's mean, and in grouped layers the
        mean of its position across the groups, so that a threshold, a sparsity or a global ranking takes
        or leaves together the channels that must go together."""
        if self.channel_groups > 1:
            return self.scores.view(self.channel_groups, -1).mean(dim=0).repeat(self.channel_groups)
        if not self.whole_heads:
            return self.scores
        per_head = self.scores.view(self.heads, -1)
        return per_head.mean(dim=1, keepdim=True).expand_as(per_head).reshape(-1)

    def channels_to_remove(self, remove: int, round_to: int) -> list[int]:
        """The channels to remove, sorted, `remove` asked for: the kept count rounded up to whole heads, or
        (heads narrowed) to a multiple of both `round_to` and the head count, or (grouped layers) of the
        group count, and of `round_to` too where both fit in the width."""
        total = len(self.scores)
        if self.channel_groups > 1:
            step = math.lcm(round_to, self.channel_groups)
            kept = _kept_count(total, remove, step if step < total else self.channel_groups)
            return same_in_every_group(self.scores, kept, self.channel_groups)
        if self.whole_heads:
            head_size = total // self.heads
            kept_heads = _kept_count(total, remove, head_size) // head_size
            return weakest_heads(self.scores, kept_heads, self.heads)
        return weakest_channels(self.scores, _kept_count(total, remove, math.lcm(round_to, self.heads)), self.heads)


def _prune_once(
    module: nn.Module,
    example: list[torch.Tensor],
    request: Prune,
    ignored: list[nn.Module],
    original: dict[str, int],
    fraction: float,
    threshold: float | None,
) -> None:
    """One pruning step: score every channel group, then remove the weakest channels of each."""
    pruners = {nn.MultiheadAttention: _WholeHeadsAttentionPruner()} if request.whole_heads else None
    graph, candidates = _channel_map(module, example, pruners, ignored)
    importance = tp.importance.GroupMagnitudeImportance(p=NORMS[request.norm], normalizer="mean")
    names = {m: name for name, m in module.named_modules()}
    parents = {child: parent for parent in module.modules() for child in parent.children()}
    groups = []
    for group in candidates:
        residual = any(isinstance(dep.target.module, RESIDUAL_COUPLED) for dep, _ in group)
        heads = _residual_heads(group) if residual else _projection_heads(group, parents)
        if heads is None or (residual and not request.residual_width):
            continue
        whole_heads = request.whole_heads and heads > 1
        root = group[0].dep.target.module
        scores = importance(group).detach().cpu()
        blocks = _channel_groups(group, len(scores))
        if blocks > 1 and heads > 1:
            continue
        groups.append(_ScoredGroup(root, group[0].dep.handler, scores, heads, whole_heads, blocks))
    scores = [group.removal_scores for group in groups]
    widths = [original[names[group.root]] for group in groups]
    for group, remove in zip(groups, _removal(scores, widths, request, fraction, threshold), strict=True):
        channels = group.channels_to_remove(remove, request.round_to)
        if not channels:
            continue
        pruning_group = graph.get_pruning_group(group.root, group.handler, channels)
        if graph.check_pruning_group(pruning_group):
            pruning_group.prune()


def _channel_map(
    module: nn.Module,
    example: list[torch.Tensor],
    pruners: dict[type, tp.pruner.BasePruningFunc] | None,
    ignored: list[nn.Module],
) -> tuple[tp.DependencyGraph, list[tp.Group]]:
    """torch-pruning's map of which channels are coupled, and its channel groups, or one line saying why
    there is none: its tracer fails on some reshapes of the channel axis (ShuffleNet's channel shuffle
    divided by zero) and its index lists outgrow any memory on others (Swin's window partitions), so the
    map is built under a memory ceiling. The error is raised once the failed call's memory is released."""
    allowance = growth_allowance()
    try:
        with memory_ceiling(allowance):
            graph = tp.DependencyGraph().build_dependency(module, tuple(example), customized_pruners=pruners)
            return graph, list(graph.get_all_groups(ignored_layers=ignored, root_module_types=list(PRUNABLE)))
    except MemoryError:
        failure = (
            f"torch-pruning's map outgrew {allowance / GIB:.1f} GiB (its index lists multiply through reshapes of "
            "the channel axis, as Swin's window partitions do)"
        )
    except Exception as error:  # noqa: BLE001  (any failure of the tracer means the same to the user)
        failure = (
            f"torch-pruning's dependency graph failed ({type(error).__name__}: {brief(error)}), as it does on "
            "reshapes that split the channel axis (a channel shuffle)"
        )
    raise ModelMismatchError(
        f"structured pruning cannot follow this model's channels: {failure}; --unstructured prunes it weight by weight"
    )


def _channel_groups(group: tp.Group, width: int) -> int:
    """How many equal blocks a grouped convolution (RegNet's, ResNeXt's) or a GroupNorm in `group` splits
    its channels into; 1 for none. torch-pruning narrows a grouped convolution's input correctly only when
    every block loses the same positions. Depthwise convolutions are pruned whole-channel by torch-pruning."""
    counts = {1}
    for dep, _ in group:
        layer = dep.target.module
        if isinstance(layer, nn.Conv2d) and 1 < layer.groups < layer.out_channels:
            counts.add(layer.groups)
        elif isinstance(layer, nn.GroupNorm) and layer.num_groups > 1:
            counts.add(layer.num_groups)
    blocks = math.lcm(*counts)
    return blocks if width % blocks == 0 else 1


def _projection_heads(group: tp.Group, parents: dict[nn.Module, nn.Module]) -> int | None:
    """For a group that narrows the query/key/value projections of an attention module: its head count
    when the module's family is known (attention_heads.LAYOUTS); None for any other attention class,
    whose forward would split the narrowed width into the wrong heads (or fail). 1 outside attention."""
    owners = {parents.get(dep.target.module) for dep, _ in group}
    attentions = {owner for owner in owners if owner is not None and "Attention" in type(owner).__name__}
    if not attentions:
        return 1
    if not all(head_split_layout(owner) for owner in attentions):
        return None
    counts = {head_count(owner) for owner in attentions}
    return counts.pop() if len(counts) == 1 else None


def _residual_heads(group: tp.Group) -> int | None:
    """The head count of a residual-width group's attention, if every attention in it is torch's
    nn.MultiheadAttention with one head count (its heads are contiguous blocks of the width, which
    torch-pruning can narrow); None otherwise (other attention classes keep shapes of their own)."""
    counts = {dep.target.module.num_heads for dep, _ in group if isinstance(dep.target.module, nn.MultiheadAttention)}
    return counts.pop() if len(counts) == 1 else None


def weakest_channels(scores: torch.Tensor, kept: int, heads: int) -> list[int]:
    """The channels to remove, sorted: the weakest, or with attention heads the weakest of each head alike,
    so that every head keeps its own channels (a head's channels are one block of the width)."""
    if heads == 1:
        return sorted(torch.argsort(scores)[: len(scores) - kept].tolist())
    per_head = scores.view(heads, -1)
    drop = (len(scores) - kept) // heads
    return sorted(
        head * per_head.shape[1] + int(index) for head in range(heads) for index in torch.argsort(per_head[head])[:drop]
    )


def same_in_every_group(scores: torch.Tensor, kept: int, groups: int) -> list[int]:
    """The channels to remove, sorted: the positions weakest on average across the `groups` blocks, taken
    from every block alike."""
    per_group = scores.view(groups, -1)
    size = per_group.shape[1]
    weakest = torch.argsort(per_group.mean(dim=0))[: size - kept // groups].tolist()
    return sorted(block * size + position for block in range(groups) for position in weakest)


def weakest_heads(scores: torch.Tensor, kept: int, heads: int) -> list[int]:
    """The channels of the `heads - kept` heads with the lowest mean channel score, sorted."""
    per_head = scores.view(heads, -1)
    size = per_head.shape[1]
    dropped = torch.argsort(per_head.mean(dim=1))[: heads - kept].tolist()
    return sorted(head * size + offset for head in dropped for offset in range(size))


def _sync_width_attributes(module: nn.Module, whole_heads: bool) -> None:
    """Widths kept as plain attributes that a forward reshapes with, which torch-pruning does not know:
    torchvision's VisionTransformer's `hidden_dim`, and Hugging Face attention's heads (`sync_heads`)."""
    for sub in module.modules():
        if isinstance(sub, VisionTransformer):
            sub.hidden_dim = sub.class_token.shape[-1]
        elif (layout := head_split_layout(sub)) is not None:
            sync_heads(sub, layout, whole_heads)


def _check_still_runs(module: nn.Module, example: list[torch.Tensor]) -> None:
    """The pruned model runs the example, or the user hears why in words: a forward that reshapes by a
    width written into the code (`x.view(n, 32, -1)`) breaks when that width is pruned."""
    try:
        with torch.no_grad():
            module(*example)
    except RuntimeError as error:
        raise ModelMismatchError(
            f"the pruned model no longer runs ({brief(error)}): its forward probably uses a layer's width as a "
            "constant (a view or reshape); keep that layer whole with --ignore NAME"
        ) from error


def prune_structured(
    module: nn.Module,
    example: list[torch.Tensor],
    request: Prune,
    ignored: list[nn.Module],
    between_steps: Callable[[int], None],
) -> PruneOutcome:
    """Remove channels in `request.steps` steps (each followed by `between_steps(step)`, e.g. fine-tuning)."""
    module.eval()
    before, heads_before = _channel_counts(module), _head_shapes(module)
    for step in range(1, request.steps + 1):
        share = step / request.steps
        fraction = (request.sparsity or 0.0) * share
        threshold = request.threshold * share if request.threshold is not None else None
        # torch-pruning warns about ViT's class token (pruned with the residual width only) and about
        # its shape-inference depth on detectors; neither concerns the user.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _prune_once(module, example, request, ignored, before, fraction, threshold)
        _sync_width_attributes(module, request.whole_heads)
        _check_still_runs(module, example)
        between_steps(step)
    after = _channel_counts(module)
    channels = {name: (before[name], after[name]) for name in after if after[name] != before.get(name)}
    heads = {name: (heads_before[name], layout) for name, layout in _head_shapes(module).items()}
    heads = {name: change for name, change in heads.items() if change[0] != change[1]}
    return PruneOutcome(request, pruned_layers=list(channels), channels=channels, attention_heads=heads)
