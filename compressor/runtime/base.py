"""One interface for every runtime, so evaluation and timing code never branch on the backend."""

from __future__ import annotations

from typing import Protocol

import torch


class Runner(Protocol):
    backend: str  # "torch" | "onnxruntime" | ...
    device: str  # "cpu" | "cuda"

    def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Run one batch; inputs and outputs are CPU tensors so callers never see device details."""
        ...

    def run_on_device(self, inputs: list[torch.Tensor]) -> None:
        """Run one batch whose inputs were already placed by `to_device`, for timing the model alone."""
        ...

    def to_device(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]: ...

    def synchronize(self) -> None:
        """Block until queued device work is done (a no-op on CPU)."""
        ...

    def close(self) -> None: ...
