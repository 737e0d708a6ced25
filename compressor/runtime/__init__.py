"""Runners by backend name, from the backend registry. Heavy optional runtimes are imported only when asked for."""

from __future__ import annotations

from compressor.core.errors import BackendUnavailableError, UnknownNameError
from compressor.core.handle import ModelHandle
from compressor.runtime.base import Runner
from compressor.runtime.registry import (
    ENGINE_KEY,
    Backend,
    artifact_for,
    backend_names,
    get_backend,
    register_backend,
)


@register_backend("torch", runs="torch")
def _torch(handle: ModelHandle, device: str) -> Runner:
    if handle.module is None:
        raise BackendUnavailableError(f"{handle.name} is an ONNX model; the torch backend needs a torch model")
    from compressor.runtime.torch_runner import TorchRunner

    return TorchRunner(handle.module, device)


@register_backend("onnxruntime", runs="onnx")
def _onnxruntime(handle: ModelHandle, device: str) -> Runner:
    if handle.onnx_path is None:
        raise BackendUnavailableError(f"{handle.name} is not exported to ONNX yet")
    from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner

    return OnnxRuntimeRunner(handle.onnx_path, device)


@register_backend("tensorrt", runs="engine")
def _tensorrt(handle: ModelHandle, device: str) -> Runner:
    if ENGINE_KEY not in handle.metadata:
        raise BackendUnavailableError(f"{handle.name} has no TensorRT engine built")
    from compressor.runtime.tensorrt_runner import TensorRTRunner

    return TensorRTRunner(handle.metadata[ENGINE_KEY], device)


def parse_backends(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = backend_names()
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise UnknownNameError(f"unknown backend {', '.join(unknown) or text!r}; choose from {', '.join(known)}")
    return names


def make_runner(handle: ModelHandle, backend: str, device: str = "cpu") -> Runner:
    """A runner for `handle` on `backend` (an ONNX handle cannot run on the torch backend)."""
    return get_backend(backend).open(handle, device)


__all__ = [
    "ENGINE_KEY",
    "Backend",
    "Runner",
    "artifact_for",
    "backend_names",
    "get_backend",
    "make_runner",
    "parse_backends",
    "register_backend",
]
