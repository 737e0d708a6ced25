"""Pruned models that reload without pickle: the shape attributes pruning changed, kept as JSON.

Pickling a pruned module would let the checkpoint run code on load. Instead we record, per module, the
plain attributes that differ from a freshly built model (`out_channels`, `num_features`, `groups`);
reloading rebuilds the architecture, applies them, resizes its tensors and loads the state_dict strictly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from compressor.core.errors import ModelMismatchError

ARCHITECTURE_CHANGES = "architecture_changes"  # the checkpoint description's key
Attributes = dict[str, dict[str, Any]]
_PLAIN = (bool, int, float, str)


def _plain(value: object) -> bool:
    return isinstance(value, _PLAIN) or (isinstance(value, tuple) and all(isinstance(v, _PLAIN) for v in value))


def shape_attributes(module: nn.Module) -> Attributes:
    """Every public plain attribute (ints, floats, strings, tuples of them) of every submodule."""
    return {
        name: {key: value for key, value in vars(sub).items() if not key.startswith("_") and _plain(value)}
        for name, sub in module.named_modules()
    }


def changed_attributes(before: Attributes, after: Attributes) -> Attributes:
    """What pruning changed: per module, the attributes whose values differ (tuples as lists, for JSON)."""
    changes: Attributes = {}
    for name, attributes in after.items():
        old = before.get(name, {})
        diff = {key: list(v) if isinstance(v, tuple) else v for key, v in attributes.items() if old.get(key) != v}
        diff.pop("training", None)
        if diff:
            changes[name] = diff
    return changes


def merged_changes(earlier: Attributes, later: Attributes) -> Attributes:
    """The changes of two pruning runs, one after the other: a model pruned again keeps the first run's
    changes (e.g. a ViT's `hidden_dim`) where the second did not touch them."""
    return {name: {**earlier.get(name, {}), **later.get(name, {})} for name in {**earlier, **later}}


def apply_architecture_changes(module: nn.Module, changes: Attributes, state_dict: dict[str, torch.Tensor]) -> None:
    """Make a fresh `module` the pruned architecture: set the recorded attributes, then give every
    parameter and buffer the shape it has in `state_dict` (its values are loaded afterwards)."""
    modules = dict(module.named_modules())
    for name, attributes in changes.items():
        if name not in modules:
            raise ModelMismatchError(f"the pruned checkpoint changes module {name!r}, which this architecture lacks")
        target = modules[name]
        for key, value in attributes.items():
            setattr(target, key, tuple(value) if isinstance(getattr(target, key, None), tuple) else value)
    for key, tensor in state_dict.items():
        owner_name, _, leaf = key.rpartition(".")
        owner = modules.get(owner_name)
        if owner is None:
            continue  # reported by the strict load that follows
        if owner._parameters.get(leaf) is not None and owner._parameters[leaf].shape != tensor.shape:
            owner._parameters[leaf] = nn.Parameter(torch.empty_like(tensor), owner._parameters[leaf].requires_grad)
        elif owner._buffers.get(leaf) is not None and owner._buffers[leaf].shape != tensor.shape:
            owner._buffers[leaf] = torch.empty_like(tensor)
