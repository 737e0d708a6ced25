"""A runner for a model with a static batch size (e.g. a Jetson bundle's ONNX) that takes any batch.

Batches are cut into chunks of the model's size; a short last chunk is padded with copies of its last
sample and the padding's outputs dropped, so scoring code never needs to know about the static shape.
"""

from __future__ import annotations

import torch

from compressor.runtime.base import Runner


class FixedBatchRunner:
    def __init__(self, inner: Runner, batch_size: int) -> None:
        self.inner, self.batch_size = inner, batch_size
        self.backend, self.device = inner.backend, inner.device

    def _chunks(self, inputs: list[torch.Tensor]) -> list[tuple[list[torch.Tensor], int]]:
        total = int(inputs[0].shape[0])
        chunks = []
        for start in range(0, total, self.batch_size):
            chunk = [tensor[start : start + self.batch_size] for tensor in inputs]
            real = int(chunk[0].shape[0])
            if real < self.batch_size:
                chunk = [torch.cat([t, t[-1:].expand(self.batch_size - real, *t.shape[1:])]) for t in chunk]
            chunks.append((chunk, real))
        return chunks

    def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        parts = [[output[:real] for output in self.inner.run(chunk)] for chunk, real in self._chunks(inputs)]
        return [torch.cat(outputs) for outputs in zip(*parts, strict=True)]

    def to_device(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.inner.to_device(inputs)

    def run_on_device(self, inputs: list[torch.Tensor]) -> None:
        self.inner.run_on_device(inputs)

    def synchronize(self) -> None:
        self.inner.synchronize()

    def close(self) -> None:
        self.inner.close()
