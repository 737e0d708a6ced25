"""Text classification: token ids and attention mask in, logits out, accuracy.

Batches are trimmed to their longest sequence, so the models (and their ONNX exports) see varying
sequence lengths; that is why the sequence axis is dynamic as well as the batch axis.
"""

from __future__ import annotations

import torch
from torch.utils.data import default_collate

from compressor.core.handle import InputSpec
from compressor.data.text import vocab_size
from compressor.tasks.classification import ClassificationTask


class Accuracy:
    """Running fraction of samples whose top prediction is the label."""

    def __init__(self) -> None:
        self.correct = 0
        self.count = 0

    def update(self, outputs: list[torch.Tensor], targets: torch.Tensor) -> None:
        self.correct += int((outputs[0].argmax(dim=1) == targets).sum())
        self.count += int(targets.numel())

    def compute(self) -> dict[str, float]:
        return {"accuracy": self.correct / self.count if self.count else float("nan")}


class TextClassificationTask(ClassificationTask):
    """Shares the loss and prediction agreement of image classification; differs in inputs and metric."""

    name = "text"
    primary_metric = "accuracy"
    input_names = ("input_ids", "attention_mask")
    output_names = ("logits",)
    default_int8_method = "dynamic"  # activation ranges vary with the text; int8 MatMul weights carry the gain

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        sequence = {0: "batch", 1: "sequence"}
        return {"input_ids": sequence, "attention_mask": sequence, "logits": {0: "batch"}}

    def collate(self, samples: list[tuple[torch.Tensor, torch.Tensor, int]]) -> list[torch.Tensor]:
        """Stack samples, then drop the padding columns no sample in the batch needs."""
        input_ids, attention_mask, labels = default_collate(samples)
        length = max(1, int(attention_mask.sum(dim=1).max()))
        return [input_ids[:, :length], attention_mask[:, :length], labels]

    def prepare_batch(self, batch: list[torch.Tensor], spec: InputSpec) -> tuple[list[torch.Tensor], torch.Tensor]:
        input_ids, attention_mask, labels = batch
        return [input_ids, attention_mask], labels

    def augment(self, inputs: list[torch.Tensor], generator: torch.Generator) -> list[torch.Tensor]:
        """No augmentation: dropping or swapping words can change a sentence's topic."""
        return inputs

    def new_metric(self) -> Accuracy:
        return Accuracy()

    def example_inputs(self, spec: InputSpec, batch_size: int) -> list[torch.Tensor]:
        """Random full-length token ids (never padding) and an all-ones mask."""
        length = int(spec.shape[0])
        input_ids = torch.randint(1, max(2, vocab_size(spec)), (batch_size, length))
        return [input_ids, torch.ones(batch_size, length, dtype=torch.int64)]
