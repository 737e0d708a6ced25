"""The backends a model can be measured on, by name: built-in ones and those plug-ins register.

A backend says what it runs (`runs`): the torch module itself, the ONNX file exported from it, or an
engine built for it from that file; measuring hands each backend that artifact. A third-party package
adds one with `@register_backend` in a module it names under the `compressor.backends` entry-point
group, loaded the first time a backend is looked up, as pytest loads its plug-ins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from compressor.core.errors import UnknownNameError
from compressor.core.handle import ModelHandle
from compressor.core.plugins import load_plugins
from compressor.runtime.base import Runner

Runs = Literal["torch", "onnx", "engine"]
ENTRY_POINT_GROUP = "compressor.backends"
# Where a handle records the engine an `engine` backend built from its ONNX file (bench builds one per precision).
ENGINE_KEY = "tensorrt_engine"
RunnerFactory = Callable[[ModelHandle, str], Runner]  # (handle, device) -> a runner


@dataclass(frozen=True)
class Backend:
    name: str
    runs: Runs
    open: RunnerFactory
    bf16: bool = False  # computes an ONNX file marked bf16 in bf16 (others would compute it in float32)
    openvino_ir: bool = False  # also runs an OpenVINO IR (.xml) where an ONNX file is expected


_REGISTRY: dict[str, Backend] = {}


def register_backend(
    name: str, runs: Runs, bf16: bool = False, openvino_ir: bool = False
) -> Callable[[RunnerFactory], RunnerFactory]:
    """Register `factory(handle, device) -> Runner` as backend `name`; a later registration replaces it.
    `bf16`: it computes an ONNX file marked bf16 (`metadata["precision"]`) in bf16. `openvino_ir`: it also
    runs OpenVINO IR files."""
    if runs not in ("torch", "onnx", "engine"):
        raise ValueError(f"backend {name!r}: runs must be torch, onnx or engine, not {runs!r}")

    def register(factory: RunnerFactory) -> RunnerFactory:
        _REGISTRY[name] = Backend(name, runs, factory, bf16, openvino_ir)
        return factory

    return register


def backend_names() -> tuple[str, ...]:
    load_plugins(ENTRY_POINT_GROUP, "backend")
    return tuple(_REGISTRY)


def get_backend(name: str) -> Backend:
    load_plugins(ENTRY_POINT_GROUP, "backend")
    if name not in _REGISTRY:
        raise UnknownNameError(f"unknown backend {name!r}; choose from {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def artifact_for(artifacts: dict[str, ModelHandle], backend: str) -> ModelHandle | None:
    """The handle `backend` runs among a variant's artifacts: its own (an engine built for it), else the
    torch model or the ONNX file, as the backend runs."""
    if backend in artifacts:
        return artifacts[backend]
    kind = get_backend(backend)
    for handle in artifacts.values():
        if kind.runs == "torch" and handle.module is not None:
            return handle
        onnx_file = handle.onnx_path is not None and ENGINE_KEY not in handle.metadata
        readable = onnx_file and (kind.openvino_ir or not handle.openvino_ir)
        if kind.runs == "onnx" and readable and (kind.bf16 or handle.metadata.get("precision") != "bf16"):
            return handle
        if kind.runs == "engine" and ENGINE_KEY in handle.metadata:
            return handle
    return None
