"""Image classification: normalised image in, logits out, top-1/top-5 accuracy."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from compressor.core.handle import InputSpec
from compressor.tasks.base import TaskBase

# ITU-R 601-2 luma, as PIL's convert("L") and OpenCV's COLOR_RGB2GRAY weigh the colours; they sum to 1, so
# a grey image read as RGB (its value in each channel) comes back unchanged.
LUMA = (0.299, 0.587, 0.114)


def to_grayscale(images: torch.Tensor) -> torch.Tensor:
    """Float NCHW RGB images to one luma channel."""
    weights = torch.tensor(LUMA, dtype=images.dtype).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def normalize_images(images: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """uint8 (or [0,1] float) NCHW RGB images to the float input the model was trained on (grey for a
    grayscale model: every dataset here decodes images as RGB)."""
    if images.dtype == torch.uint8:
        images = images.float().div_(255.0)
    if spec.grayscale and images.shape[1] == 3:
        images = to_grayscale(images)
    mean = torch.tensor(spec.mean, dtype=images.dtype).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=images.dtype).view(1, -1, 1, 1)
    return (images - mean) / std


def renormalisation(source: InputSpec, target: InputSpec) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(scale, shift) per channel turning images normalised for `source` into images normalised for
    `target` (the student's batch for a distillation teacher; raw pixels for `pixel_input`); None if alike."""
    if source.dtype != "float32" or (source.mean, source.std) == (target.mean, target.std):
        return None
    source_mean, source_std, target_mean, target_std = (
        torch.tensor(values).view(-1, 1, 1) for values in (source.mean, source.std, target.mean, target.std)
    )
    return source_std / target_std, (source_mean - target_mean) / target_std


class TopKAccuracy:
    """Running top-1 and top-5 accuracy; top-5 only where a model has more than 5 classes (with 5 or fewer
    it would be 1.0 by construction)."""

    def __init__(self) -> None:
        self.correct1 = 0
        self.correct5 = 0
        self.count = 0
        self.classes: int | None = None

    def update(self, outputs: list[torch.Tensor], targets: torch.Tensor) -> None:
        logits = outputs[0]
        self.classes = int(logits.shape[1])
        topk = logits.topk(min(5, self.classes), dim=1).indices
        hits = topk == targets.view(-1, 1)
        self.correct1 += int(hits[:, 0].sum())
        self.correct5 += int(hits.any(dim=1).sum())
        self.count += int(targets.numel())

    def compute(self) -> dict[str, float]:
        if self.count == 0:
            return {"top1": float("nan"), "top5": float("nan")}
        metrics = {"top1": self.correct1 / self.count}
        if self.classes is None or self.classes > 5:
            metrics["top5"] = self.correct5 / self.count
        return metrics


class ClassificationTask(TaskBase):
    name = "classification"
    primary_metric = "top1"
    input_names = ("input",)
    output_names = ("logits",)
    distillation = "logits"

    def prepare_batch(
        self, batch: tuple[torch.Tensor, torch.Tensor], spec: InputSpec
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        images, labels = batch
        return [normalize_images(images, spec)], labels

    def augment(self, inputs: list[torch.Tensor], generator: torch.Generator) -> list[torch.Tensor]:
        """Random 4-pixel shifts (reflect padding) and horizontal flips."""
        images = inputs[0]
        height, width = images.shape[-2:]
        padded = F.pad(images, (4, 4, 4, 4), mode="reflect")
        dx, dy = (int(v) for v in torch.randint(0, 9, (2,), generator=generator))
        images = padded[:, :, dy : dy + height, dx : dx + width]
        if float(torch.rand(1, generator=generator)) < 0.5:
            images = images.flip(3)
        return [images.contiguous()]

    def new_metric(self) -> TopKAccuracy:
        return TopKAccuracy()

    def loss(self, outputs: list[torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs[0], targets)

    def agreement(self, reference: list[torch.Tensor], candidate: list[torch.Tensor]) -> float:
        return float((reference[0].argmax(dim=1) == candidate[0].argmax(dim=1)).float().mean())

    def example_inputs(self, spec: InputSpec, batch_size: int) -> list[torch.Tensor]:
        return [torch.randn(batch_size, *spec.shape)]
