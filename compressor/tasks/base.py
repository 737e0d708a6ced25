"""The task interface: how a kind of model is fed, scored and trained, independent of the runtime."""

from __future__ import annotations

from typing import Any, Protocol

import torch

from compressor.models.handle import InputSpec


class MetricAccumulator(Protocol):
    """Accumulates a metric batch by batch, so evaluation memory stays flat as the dataset grows."""

    def update(self, outputs: list[torch.Tensor], targets: Any) -> None: ...

    def compute(self) -> dict[str, float]: ...


class Task(Protocol):
    name: str
    primary_metric: str
    input_names: tuple[str, ...]  # the model's positional inputs, in order (also the ONNX input names)
    output_names: tuple[str, ...]

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """For each input and output name, its axes that vary at run time (axis -> dimension name)."""
        ...

    def prepare_batch(self, batch: Any, spec: InputSpec) -> tuple[list[torch.Tensor], Any]:
        """Turn a loader batch into model inputs and targets."""
        ...

    def augment(self, inputs: list[torch.Tensor], generator: torch.Generator) -> list[torch.Tensor]:
        """Light training-time augmentation of prepared inputs."""
        ...

    def new_metric(self) -> MetricAccumulator: ...

    def loss(self, outputs: list[torch.Tensor], targets: Any) -> torch.Tensor: ...

    def agreement(self, reference: list[torch.Tensor], candidate: list[torch.Tensor]) -> float:
        """Fraction of samples on which two models make the same prediction (export and quantization checks)."""
        ...

    def example_inputs(self, spec: InputSpec, batch_size: int) -> list[torch.Tensor]:
        """Random inputs of the right shape and dtype, for export tracing and latency timing."""
        ...
