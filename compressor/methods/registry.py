"""The compression methods, by options class: built-in ones and those plug-ins register.

`@register_method(Config)` ties an options class (a `MethodConfig`) to the function that applies it,
`apply(model, config, data, work) -> model`. The class's `kind` names its recipe stage, so a registered
method runs from a recipe, and `cz.compress` runs it from Python. A third-party package registers
one in a module it names under the `compressor.methods` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from compressor.core.errors import OptionError
from compressor.core.handle import ModelHandle
from compressor.core.plugins import load_plugins
from compressor.data.base import DatasetBundle
from compressor.methods.configs import MethodConfig

ENTRY_POINT_GROUP = "compressor.methods"
ConfigT = TypeVar("ConfigT", bound=MethodConfig)


@dataclass(frozen=True)
class Workspace:
    """What a method gets besides the model: a folder for the files it makes, and the model as an ONNX
    file (exported on demand by the layer above, which owns exporting)."""

    folder: Path
    to_onnx: Callable[[ModelHandle], ModelHandle]


Apply = Callable[[ModelHandle, Any, DatasetBundle, Workspace], ModelHandle]  # -> the compressed model


@dataclass(frozen=True)
class Method:
    config: type[MethodConfig]
    apply: Apply


_REGISTRY: dict[type[MethodConfig], Method] = {}


def register_method(config: type[ConfigT]) -> Callable[[Apply], Apply]:
    """Register `apply(model, config, data, work) -> model` for options of class `config`; the class's `kind`
    is its recipe stage's name. A later registration of the same class replaces the earlier one."""
    if not (isinstance(config, type) and issubclass(config, MethodConfig)) or not config.kind:
        raise ValueError(f"{config!r}: a method's options are a MethodConfig subclass with a `kind`")

    def register(apply: Apply) -> Apply:
        _REGISTRY[config] = Method(config, apply)
        return apply

    return register


def _methods() -> dict[type[MethodConfig], Method]:
    load_plugins(ENTRY_POINT_GROUP, "method")
    return _REGISTRY


def method_for(config: MethodConfig) -> Method:
    """The method registered for `config`'s class or the nearest class it derives from (`Int8` is a `Quantize`)."""
    methods = _methods()
    for cls in type(config).__mro__:
        if cls in methods:
            return methods[cls]  # type: ignore[index]
    raise OptionError(
        f"{type(config).__name__} is not a registered method's options; register it with @register_method"
    )


def stage_kinds() -> dict[str, type[MethodConfig]]:
    """Recipe stage name -> the options class it reads, for every registered method."""
    return {method.config.kind: method.config for method in _methods().values()}
