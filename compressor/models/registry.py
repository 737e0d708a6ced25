"""The reference zoo's registry: plain factory functions, one per model name.

Adding a model is one decorated function that takes `num_classes` and returns an `nn.Module`; look
entries up through `catalog`, which registers the built-in ones first.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:
    from compressor.core.handle import InputSpec
    from compressor.data.base import DatasetBundle

ModelFactory = Callable[..., nn.Module]
# Builds a model's InputSpec from the data (a text model's vocabulary, say) and the --image-size asked for.
SpecHook = Callable[["DatasetBundle", "tuple[int, int] | None"], "InputSpec"]


@dataclass(frozen=True)
class ZooEntry:
    name: str
    task: str
    factory: ModelFactory
    input_size: tuple[int, ...]  # (height, width) for images; (max_length,) for text
    source: str
    reference_epochs: int
    description: str
    input_spec: SpecHook | None = None  # None: an image model, sized by --image-size or the data
    # TrainConfig fields this model trains best with (e.g. a Transformer's lower lr); the rest default.
    train_recipe: Mapping[str, float] = field(default_factory=dict)
    # Raised when `build` makes another network for the same inputs (a stride, a width): cached reference
    # checkpoints of an older revision are then trained anew instead of loaded into the new network,
    # which takes their weights without complaint whenever the shapes still match.
    revision: int = 1
    revision_note: str = ""  # what the latest revision changed, for the warning on older checkpoints

    def build(self, num_classes: int, spec: InputSpec | None = None) -> nn.Module:
        """A fresh model; factories with a `spec` parameter are shaped by the InputSpec (vocabulary, size)."""
        if "spec" not in inspect.signature(self.factory).parameters:
            return self.factory(num_classes=num_classes)
        if spec is None:
            raise ValueError(f"{self.name} is built from an input spec; pass one")
        return self.factory(num_classes=num_classes, spec=spec)


_REGISTRY: dict[str, ZooEntry] = {}


def register(
    name: str,
    *,
    task: str,
    input_size: tuple[int, ...],
    source: str,
    reference_epochs: int = 10,
    description: str | None = None,
    input_spec: SpecHook | None = None,
    train_recipe: Mapping[str, float] | None = None,
    revision: int = 1,
    revision_note: str = "",
) -> Callable[[ModelFactory], ModelFactory]:
    """Register `factory(num_classes=...)` under `name`; by default its docstring's first line describes it."""

    def decorator(factory: ModelFactory) -> ModelFactory:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        text = description or (factory.__doc__ or "").strip().partition("\n")[0]
        _REGISTRY[name] = ZooEntry(
            name,
            task,
            factory,
            input_size,
            source,
            reference_epochs,
            text,
            input_spec,
            dict(train_recipe or {}),
            revision,
            revision_note,
        )
        return factory

    return decorator


def registered() -> dict[str, ZooEntry]:
    """Every entry registered so far, by name (`catalog` has them all: it imports the built-in ones first)."""
    return _REGISTRY
