"""A backend from outside the package, as a plug-in registers one: onnxruntime with its operators run one
after another on one thread, in a file of its own. tests/test_backends.py loads it through the
`compressor.backends` entry-point group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import compressor
from compressor.core.handle import ModelHandle


class SequentialRunner:
    backend = "ort-sequential"

    def __init__(self, path: Path, device: str) -> None:
        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = [node.name for node in self.session.get_inputs()]
        self.device = device

    def to_device(self, inputs: list[torch.Tensor]) -> list[np.ndarray]:
        return [tensor.numpy() for tensor in inputs]

    def run_on_device(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        return self.session.run(None, dict(zip(self.names, arrays, strict=True)))

    def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [torch.from_numpy(output) for output in self.run_on_device(self.to_device(inputs))]

    def synchronize(self) -> None:
        pass

    def close(self) -> None:
        del self.session


@compressor.register_backend("ort-sequential", runs="onnx")
def open_sequential(handle: ModelHandle, device: str) -> SequentialRunner:
    assert handle.onnx_path is not None
    return SequentialRunner(handle.onnx_path, device)
