"""ONNX Runtime: torch's thread count and full graph optimisation, or the CUDA provider when installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from compressor.errors import BackendUnavailableError, InputFileError, brief


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


class OnnxRuntimeRunner:
    backend = "onnxruntime"

    def __init__(self, path: Path, device: str = "cpu") -> None:
        self.device = device
        self.session = create_session(path, device)
        self.input_names = [node.name for node in self.session.get_inputs()]

    def to_device(self, inputs: list[torch.Tensor]) -> list[np.ndarray]:  # type: ignore[override]
        return [np.ascontiguousarray(tensor.numpy()) for tensor in inputs]

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
