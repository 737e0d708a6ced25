"""ONNX Runtime: torch's thread count and full graph optimisation, or the CUDA provider when installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from compressor.core.errors import BackendUnavailableError, InputFileError, brief


def _holds_float16(path: Path) -> bool:
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001  (a corrupt file: onnxruntime's own error names it next)
        return False
    return any(tensor.data_type == onnx.TensorProto.FLOAT16 for tensor in model.graph.initializer)


def optimization_level(path: Path | None) -> ort.GraphOptimizationLevel:
    """Full optimisation, except for fp16 graphs: the last level adds NCHWc layout passes, which serve
    float32 CPU kernels only, and onnxruntime 1.32 crashes (segfault) in them on text_transformer's
    fp16 graph. fp16 graphs stop at the extended level, which loses them nothing."""
    if path is not None and path.is_file() and _holds_float16(path):
        return ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    return ort.GraphOptimizationLevel.ORT_ENABLE_ALL


def session_options(path: Path | None = None) -> ort.SessionOptions:
    """Threads: torch's own count, so the torch and onnxruntime rows of a report run on as many cores
    (torch counts physical cores and honours OMP_NUM_THREADS; onnxruntime would take every logical one)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = optimization_level(path)
    options.intra_op_num_threads = torch.get_num_threads()
    options.log_severity_level = 3  # errors only: keep the user's terminal readable
    return options


def providers_for(device: str) -> list[str]:
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise BackendUnavailableError(
                "onnxruntime has no CUDA provider here; install onnxruntime-gpu for --device cuda"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise BackendUnavailableError(f"unknown device {device!r}; use cpu or cuda")


def create_session(path: Path, device: str = "cpu") -> ort.InferenceSession:
    try:
        return ort.InferenceSession(str(path), session_options(path=path), providers=providers_for(device))
    except (
        ort.capi.onnxruntime_pybind11_state.Fail,
        ort.capi.onnxruntime_pybind11_state.InvalidProtobuf,
        ort.capi.onnxruntime_pybind11_state.InvalidGraph,
        ort.capi.onnxruntime_pybind11_state.NoSuchFile,
    ) as error:
        raise InputFileError(f"onnxruntime cannot load {path}: {brief(error, 300)}") from error


# The element types a graph input may take that the data pipeline's float32 tensors are converted to.
_FED_TYPES = {"tensor(float16)": np.float16, "tensor(uint8)": np.uint8}


def as_fed(array: np.ndarray, dtype: type | None) -> np.ndarray:
    """`array` as a graph input of `dtype` takes it: float16 (a half-precision file from elsewhere), or
    uint8 pixels (raw 0-255 values, rounded: they pass through a division and a multiplication by 255)."""
    if dtype is None or array.dtype == dtype or array.dtype.kind != "f":
        return array
    if dtype is np.uint8:
        return np.clip(np.rint(array), 0, 255).astype(np.uint8)
    return array.astype(dtype)


def session_feed(session: ort.InferenceSession, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    """`arrays` by the session's input names, each as its input takes it (`as_fed`)."""
    inputs = session.get_inputs()
    return {node.name: as_fed(array, _FED_TYPES.get(node.type)) for node, array in zip(inputs, arrays, strict=True)}


class OnnxRuntimeRunner:
    backend = "onnxruntime"

    def __init__(self, path: Path, device: str = "cpu") -> None:
        self.device = device
        self.session = create_session(path, device)
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.input_dtypes = [_FED_TYPES.get(node.type) for node in self.session.get_inputs()]

    def to_device(self, inputs: list[torch.Tensor]) -> list[np.ndarray]:  # type: ignore[override]
        arrays = [np.ascontiguousarray(tensor.numpy()) for tensor in inputs]
        return [as_fed(array, dtype) for array, dtype in zip(arrays, self.input_dtypes, strict=False)]

    def _feed(self, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
        if len(arrays) != len(self.input_names):
            raise InputFileError(f"the ONNX model takes {len(self.input_names)} inputs, got {len(arrays)}")
        return dict(zip(self.input_names, arrays, strict=True))

    def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        outputs = self.session.run(None, self._feed(self.to_device(inputs)))
        return [torch.from_numpy(np.asarray(output)) for output in outputs]

    def run_on_device(self, inputs: list[np.ndarray]) -> None:  # type: ignore[override]
        self.session.run(None, self._feed(inputs))

    def synchronize(self) -> None:
        """session.run returns only when the outputs are ready, on every provider."""

    def close(self) -> None:
        del self.session
