"""Runners by backend name. Heavy optional runtimes are imported only when asked for."""

from __future__ import annotations

from compressor.errors import BackendUnavailableError, UnknownNameError
from compressor.models.handle import ModelHandle
from compressor.runtime.base import Runner

BACKENDS = ("torch", "onnxruntime", "tensorrt")
# Where a handle records the TensorRT engine built from its ONNX file (bench builds one per precision).
ENGINE_KEY = "tensorrt_engine"


def parse_backends(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in BACKENDS]
    if unknown or not names:
        raise UnknownNameError(f"unknown backend {', '.join(unknown) or text!r}; choose from {', '.join(BACKENDS)}")
    return names


def make_runner(handle: ModelHandle, backend: str, device: str = "cpu") -> Runner:
    """A runner for `handle` on `backend`; an ONNX handle cannot run on the torch backend."""
    if backend == "torch":
        if handle.module is None:
            raise BackendUnavailableError(f"{handle.name} is an ONNX model; the torch backend needs a torch model")
        from compressor.runtime.torch_runner import TorchRunner

        return TorchRunner(handle.module, device)
    if backend == "onnxruntime":
        if handle.onnx_path is None:
            raise BackendUnavailableError(f"{handle.name} is not exported to ONNX yet")
        from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner

        return OnnxRuntimeRunner(handle.onnx_path, device)
    if backend == "tensorrt":
        if ENGINE_KEY not in handle.metadata:
            raise BackendUnavailableError(f"{handle.name} has no TensorRT engine built")
        from compressor.runtime.tensorrt_runner import TensorRTRunner

        return TensorRTRunner(handle.metadata[ENGINE_KEY], device)
    raise UnknownNameError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "ENGINE_KEY", "Runner", "make_runner", "parse_backends"]
