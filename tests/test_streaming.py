"""Bounded memory: evaluation and calibration read the dataset one batch ahead at most, so memory stays
flat however large the dataset (a structural check: which samples were read when, not timings)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from compressor.core.handle import InputSpec
from compressor.measurement.evaluate import evaluate
from compressor.methods.calibration import DatasetCalibrationReader
from compressor.tasks import get_task

SPEC = InputSpec(shape=(3, 8, 8), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


class CountingImages(Dataset):
    """uint8 images, counting how many samples have been read so far."""

    def __init__(self, size: int) -> None:
        self.size, self.reads = size, 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        self.reads += 1
        return torch.zeros(3, 8, 8, dtype=torch.uint8), index % 2


class CheckingRunner:
    """Asserts, at every batch, that the dataset has not been read further than this batch."""

    backend, device = "torch", "cpu"

    def __init__(self, dataset: CountingImages) -> None:
        self.dataset, self.seen = dataset, 0

    def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        self.seen += int(inputs[0].shape[0])
        assert self.dataset.reads <= self.seen, "samples were read ahead of the batch being scored"
        return [torch.zeros(inputs[0].shape[0], 2)]


def test_evaluation_streams_batch_by_batch() -> None:
    task = get_task("classification")
    dataset = CountingImages(10 * task.eval_batch_size)
    runner = CheckingRunner(dataset)
    evaluate(runner, task, dataset, SPEC)  # type: ignore[arg-type]
    assert runner.seen == dataset.reads == len(dataset)


def test_calibration_reads_one_batch_per_request() -> None:
    task = get_task("classification")
    dataset = CountingImages(100)
    reader = DatasetCalibrationReader(dataset, task, SPEC, ["input"])
    first = reader.get_next()
    assert first is not None and dataset.reads == reader.batch_size
    batches = 1
    while reader.get_next() is not None:
        batches += 1
        assert dataset.reads == min(batches * reader.batch_size, len(dataset))
    assert batches == len(reader) == 7  # 100 samples: six full batches of 16 and a short one
