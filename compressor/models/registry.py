"""The reference zoo: a registry of plain factory functions, one per model name.

Adding a model is one decorated function that takes `num_classes` and returns an `nn.Module`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from compressor.errors import UnknownNameError

ModelFactory = Callable[..., nn.Module]


@dataclass(frozen=True)
class ZooEntry:
    name: str
    task: str
    factory: ModelFactory
    input_size: tuple[int, int]
    source: str
    reference_epochs: int
    description: str

    def build(self, num_classes: int) -> nn.Module:
        return self.factory(num_classes=num_classes)


_REGISTRY: dict[str, ZooEntry] = {}


def register(
    name: str,
    *,
    task: str,
    input_size: tuple[int, int],
    source: str,
    reference_epochs: int = 10,
    description: str | None = None,
) -> Callable[[ModelFactory], ModelFactory]:
    """Register `factory(num_classes=...)` under `name`; by default its docstring's first line describes it."""

    def decorator(factory: ModelFactory) -> ModelFactory:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        text = description or (factory.__doc__ or "").strip().partition("\n")[0]
        _REGISTRY[name] = ZooEntry(name, task, factory, input_size, source, reference_epochs, text)
        return factory

    return decorator


def _ensure_zoo_loaded() -> None:
    from compressor.models import zoo  # noqa: F401  (registers the built-in entries)


def get_entry(name: str) -> ZooEntry:
    _ensure_zoo_loaded()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownNameError(f"unknown model {name!r}.{hint} `compress models` lists the zoo.")
    return _REGISTRY[name]


def is_zoo_name(name: str) -> bool:
    _ensure_zoo_loaded()
    return name in _REGISTRY


def list_entries() -> list[ZooEntry]:
    _ensure_zoo_loaded()
    return sorted(_REGISTRY.values(), key=lambda entry: (entry.task, entry.name))
