"""OpenVINO on the CPU: the same ONNX files onnxruntime runs (fp32, fp16, Q/DQ int8), compiled by its CPU
plugin with the latency hint and torch's thread count, so its rows sit beside the other CPU rows.

The backend registers itself when the package's `compressor.backends` entry point imports this module;
`pip install 'compressor[openvino]'` adds OpenVINO.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from compressor.core.errors import BackendUnavailableError, InputFileError, MissingDependencyError, brief
from compressor.core.handle import ModelHandle
from compressor.core.progress import quiet_output
from compressor.runtime.base import Runner
from compressor.runtime.onnxruntime_runner import as_fed
from compressor.runtime.registry import register_backend

# float32 unless asked: on CPUs with AMX or AVX-512 bf16 OpenVINO would otherwise compute in bf16 by
# default, and an fp32 row must compute what onnxruntime's fp32 row computes.
INFERENCE_PRECISIONS = {"fp32": "f32", "bf16": "bf16"}
_FED_TYPES = {"f16": np.float16, "u8": np.uint8}


def import_openvino() -> ModuleType:
    try:
        import openvino
    except ImportError as error:
        raise MissingDependencyError("OpenVINO is not installed: pip install 'compressor[openvino]'") from error
    return openvino


def openvino_reason(error: BaseException) -> str:
    """OpenVINO's message without the `Exception from src/...` lines that trace where in its C++ it arose."""
    lines = [line for line in str(error).splitlines() if line.strip() and not line.startswith("Exception from ")]
    return brief("\n".join(lines) or str(error), 300)


def read_model(path: Path) -> Any:
    """The ONNX file or IR at `path` as an OpenVINO model; what it cannot read, in one line (its frontends'
    own C++ logging kept off the terminal)."""
    core = import_openvino().Core()
    try:
        with quiet_output():
            return core.read_model(str(path))
    except RuntimeError as error:
        raise InputFileError(f"OpenVINO cannot read {path}: {openvino_reason(error)}") from error


def fed_types(ports: list[Any]) -> list[type | None]:
    """The numpy type each input port takes where it is not float32 (`as_fed`), else None."""
    return [_FED_TYPES.get(port.get_element_type().get_type_name()) for port in ports]


def compile_options(precision: str = "fp32") -> dict[str, Any]:
    """The CPU plugin's settings: one request at a time at the lowest latency, on torch's threads."""
    return {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": torch.get_num_threads(),
        "INFERENCE_PRECISION_HINT": INFERENCE_PRECISIONS[precision],
    }


class OpenVinoRunner:
    backend = "openvino"

    def __init__(self, path: Path, device: str = "cpu", precision: str = "fp32") -> None:
        if device != "cpu":
            raise BackendUnavailableError("the openvino backend runs on the CPU here; use --device cpu")
        self.device = device
        model = read_model(path)
        try:
            self.compiled = import_openvino().Core().compile_model(model, "CPU", compile_options(precision))
        except RuntimeError as error:
            raise InputFileError(f"OpenVINO cannot compile {path}: {openvino_reason(error)}") from error
        self.request = self.compiled.create_infer_request()
        self.input_dtypes = fed_types(self.compiled.inputs)

    def to_device(self, inputs: list[torch.Tensor]) -> list[np.ndarray]:  # type: ignore[override]
        arrays = [np.ascontiguousarray(tensor.numpy()) for tensor in inputs]
        return [as_fed(array, dtype) for array, dtype in zip(arrays, self.input_dtypes, strict=False)]

    def _infer(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        if len(arrays) != len(self.compiled.inputs):
            raise InputFileError(f"the ONNX model takes {len(self.compiled.inputs)} inputs, got {len(arrays)}")
        results = self.request.infer(arrays)
        return [np.array(results[port]) for port in self.compiled.outputs]

    def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [torch.from_numpy(output) for output in self._infer(self.to_device(inputs))]

    def run_on_device(self, inputs: list[np.ndarray]) -> None:  # type: ignore[override]
        self.request.infer(inputs)

    def synchronize(self) -> None:
        """infer() returns when the outputs are ready."""

    def close(self) -> None:
        del self.request, self.compiled


def check_bf16() -> None:
    """bf16 where the CPU computes it (AMX or AVX-512 BF16), never emulated."""
    if "BF16" not in import_openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        raise BackendUnavailableError(
            "this CPU has no bf16 instructions (AMX or AVX-512 BF16), and OpenVINO would only emulate them"
        )


@register_backend("openvino", runs="onnx", bf16=True, openvino_ir=True)
def _openvino(handle: ModelHandle, device: str) -> Runner:
    if handle.onnx_path is None:
        raise BackendUnavailableError(f"{handle.name} is not exported to ONNX yet")
    precision = "bf16" if handle.metadata.get("precision") == "bf16" else "fp32"
    if precision == "bf16":
        check_bf16()
    return OpenVinoRunner(handle.onnx_path, device, precision)
