"""The task interface: how a kind of model is fed, scored and trained, independent of the runtime."""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from compressor.core.handle import InputSpec
from compressor.runtime.base import Runner
from compressor.runtime.torch_runner import output_list


class MetricAccumulator(Protocol):
    """Accumulates a metric batch by batch, so evaluation memory stays flat as the dataset grows."""

    def update(self, outputs: list[torch.Tensor], targets: Any) -> None: ...

    def compute(self) -> dict[str, float]: ...


class Task(Protocol):
    """The interface every task implements; `TaskBase` below provides the common defaults."""

    name: str
    primary_metric: str
    input_names: tuple[str, ...]  # the model's positional inputs, in order (also the ONNX input names)
    output_names: tuple[str, ...]
    eval_batch_size: int
    train_batch_size: int
    fixed_batch_size: int | None
    measurement_note: str | None
    scored_against_baseline: bool  # targets come from the baseline model's outputs, not from labels
    default_int8_method: str  # "static" or "dynamic" (Transformers on text: dynamic)
    # int8 leaves alone what follows the last weighted layers (a detector's box decoding and NMS)
    int8_post_processing_in_float: bool
    # What a student matches when distilled: the teacher's class "logits" (Hinton KD), its
    # "embedding" (cosine), or None where no distillation loss is defined (detection).
    distillation: str | None

    def scoring_set(self, val: Dataset, baseline: Runner, spec: InputSpec) -> Dataset:
        """The val set as this task scores it; tasks scored against the baseline put its outputs in as targets."""
        ...

    def collate(self, samples: list[Any]) -> Any: ...

    def training_loss(self, module: nn.Module, inputs: list[torch.Tensor], targets: Any) -> torch.Tensor: ...

    def parity(self, reference: list[torch.Tensor], candidate: list[torch.Tensor]) -> tuple[float, float]: ...

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

    def pixel_normalisation(self, spec: InputSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) that pixels / 255 get before the model: what a device must do to feed the export."""
        ...

    def resize_before_crop(self, spec: InputSpec) -> tuple[int, ...]:
        """How an image is resized before its centre crop to the input size, as this task's data does it:
        (S,) the short side to S, aspect kept; (H, W) exactly."""
        ...


class TaskBase:
    """Defaults that most tasks share; a task overrides only what differs (detection overrides most)."""

    input_names: tuple[str, ...] = ("input",)
    output_names: tuple[str, ...] = ("output",)
    eval_batch_size = 64
    train_batch_size = 32
    fixed_batch_size: int | None = None  # when the exported graph takes only one batch size (detectors: 1)
    measurement_note: str | None = None  # what the report should say about how this task is timed
    scored_against_baseline = False
    default_int8_method = "static"
    int8_post_processing_in_float = False
    distillation = None

    def scoring_set(self, val: Dataset, baseline: Runner, spec: InputSpec) -> Dataset:
        return val

    def pixel_normalisation(self, spec: InputSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return spec.mean, spec.std

    def resize_before_crop(self, spec: InputSpec) -> tuple[int, ...]:
        return spec.resize_before_crop

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        return {name: {0: "batch"} for name in (*self.input_names, *self.output_names)}

    def collate(self, samples: list[Any]) -> Any:
        """How a DataLoader stacks samples into a batch."""
        return default_collate(samples)

    def augment(self, inputs: list[torch.Tensor], generator: torch.Generator) -> list[torch.Tensor]:
        return inputs

    def loss(self, outputs: list[torch.Tensor], targets: Any) -> torch.Tensor:
        raise NotImplementedError

    def training_loss(self, module: nn.Module, inputs: list[torch.Tensor], targets: Any) -> torch.Tensor:
        """The loss of one training step, given inputs already on the training device."""
        return self.loss(output_list(module(*inputs)), targets.to(inputs[0].device))

    def agreement(self, reference: list[torch.Tensor], candidate: list[torch.Tensor]) -> float:
        raise NotImplementedError

    def parity(self, reference: list[torch.Tensor], candidate: list[torch.Tensor]) -> tuple[float, float]:
        """(max abs difference of the outputs, prediction agreement) between two runs of one model."""
        max_diff = max(
            float((ref.float() - cand.float()).abs().max()) for ref, cand in zip(reference, candidate, strict=True)
        )
        return max_diff, self.agreement(reference, candidate)
