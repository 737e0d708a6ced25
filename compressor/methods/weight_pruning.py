"""Unstructured pruning: single weights zeroed, by relative magnitude, by fraction, or 2 of every 4.

Dense runtimes do not run a model with zeros in it any faster; it compresses smaller on disk. The
2:4 pattern is the one GPUs with sparse tensor cores accelerate.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from compressor.methods.configs import Prune
from compressor.methods.prune_options import PRUNABLE, PruneOutcome


def _is_depthwise(layer: nn.Module) -> bool:
    return isinstance(layer, nn.Conv2d) and layer.groups > 1 and layer.weight.shape[1] == 1


def _prunable_weights(module: nn.Module, ignored: list[nn.Module], pattern: str | None) -> dict[str, nn.Module]:
    """Convolutions and linear layers, less depthwise convolutions: their few weights per channel are
    its whole spatial filter, and they hold a tiny share of the weights."""
    layers = {
        name: m
        for name, m in module.named_modules()
        if isinstance(m, PRUNABLE) and m not in ignored and not _is_depthwise(m)
    }
    if pattern == "2:4":  # groups of 4 along the input dimension; layers with fewer inputs per group stay dense
        layers = {name: m for name, m in layers.items() if m.weight.shape[1] % 4 == 0}
    return layers


def _two_of_four_mask(weight: torch.Tensor) -> torch.Tensor:
    """Keep the 2 largest of every 4 consecutive input weights (inputs last, as sparse tensor cores read them)."""
    inputs_last = weight.movedim(1, -1) if weight.dim() > 2 else weight
    blocks = inputs_last.abs().reshape(-1, 4)
    mask = torch.zeros_like(blocks)
    mask.scatter_(1, blocks.topk(2, dim=1).indices, 1.0)
    mask = mask.reshape(inputs_last.shape)
    return mask.movedim(-1, 1) if weight.dim() > 2 else mask


def _smallest_mask(magnitude: torch.Tensor, count: int) -> torch.Tensor:
    """Exactly `count` zeros at the smallest magnitudes (ties broken by position)."""
    mask = torch.ones(magnitude.numel())
    mask[torch.argsort(magnitude.flatten(), stable=True)[:count]] = 0.0
    return mask.reshape(magnitude.shape)


def unstructured_masks(module: nn.Module, request: Prune, ignored: list[nn.Module]) -> dict[str, torch.Tensor]:
    """Per prunable layer, the 0/1 mask of the weights that stay."""
    layers = _prunable_weights(module, ignored, request.pattern)
    weights = {name: m.weight.detach().abs() for name, m in layers.items()}
    if request.pattern == "2:4":
        return {name: _two_of_four_mask(w) for name, w in weights.items()}
    if request.threshold is not None:
        return {name: (w >= request.threshold * w.mean()).float() for name, w in weights.items()}
    sparsity = request.sparsity or 0.0
    if not request.global_ranking:
        return {name: _smallest_mask(w, round(sparsity * w.numel())) for name, w in weights.items()}
    # Global: layers compared by magnitude relative to their own mean, like the structured scores.
    relative = torch.cat([(w / w.mean()).flatten() for w in weights.values()])
    flat = _smallest_mask(relative, round(sparsity * relative.numel()))
    masks, offset = {}, 0
    for name, w in weights.items():
        masks[name] = flat[offset : offset + w.numel()].reshape(w.shape)
        offset += w.numel()
    return masks


def prune_unstructured(
    module: nn.Module, request: Prune, ignored: list[nn.Module], finetune: Callable[[], None]
) -> PruneOutcome:
    """Zero the masked weights; fine-tuning (if any) runs with the masks held, then they are made permanent."""
    masks = unstructured_masks(module, request, ignored)
    layers = dict(module.named_modules())
    for name, mask in masks.items():
        torch_prune.custom_from_mask(layers[name], "weight", mask)
    finetune()
    for name in masks:
        torch_prune.remove(layers[name], "weight")
    zeros = sum(int((layers[name].weight == 0).sum()) for name in masks)
    total = sum(layers[name].weight.numel() for name in masks)
    return PruneOutcome(request, pruned_layers=list(masks), sparsity=zeros / max(total, 1))
