"""Scoring a model on the val split through any runner: the number we report is the shipped artifact's."""

from __future__ import annotations

from torch.utils.data import Dataset

from compressor.core.handle import InputSpec
from compressor.core.progress import make_progress
from compressor.data.loader import data_loader
from compressor.runtime.base import Runner
from compressor.tasks.base import Task


def evaluate(
    runner: Runner,
    task: Task,
    dataset: Dataset,
    spec: InputSpec,
    label: str = "evaluate",
) -> dict[str, float]:
    """Stream the dataset batch by batch (memory stays flat) and return the task's metrics."""
    metric = task.new_metric()
    loader = data_loader(dataset, task.eval_batch_size, runner.device, shuffle=False, collate_fn=task.collate)
    with make_progress() as progress:
        bar = progress.add_task(label, total=len(loader), status="")
        for batch in loader:
            inputs, targets = task.prepare_batch(batch, spec)
            metric.update(runner.run(inputs), targets)
            progress.advance(bar)
    return metric.compute()
