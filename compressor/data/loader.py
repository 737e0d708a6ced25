"""The DataLoader of every pass over a dataset: for a GPU, image files are decoded in worker processes.

Decoding is slow next to GPU scoring, so CUDA passes over datasets that read files (`reads_files`)
get workers; on the CPU the model needs those cores, and in-memory datasets never get them.
$COMPRESSOR_DATA_WORKERS sets the count for file datasets on any device (0: none). Workers change no
result: same batch order and contents (augmentation runs in the main process; see `OnePermutation`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from compressor.core.errors import CompressorError, OptionError

WORKERS_VARIABLE = "COMPRESSOR_DATA_WORKERS"  # worker processes for datasets that read files (0: none)
MAX_WORKERS = 8


def data_loader(dataset: Dataset, batch_size: int, device: str = "cpu", **options: Any) -> DataLoader:
    """A DataLoader over `dataset` (options as DataLoader's) for a model on `device`."""
    return _Loader(dataset, batch_size, num_workers=loader_workers(dataset, device), **options)


class OnePermutation(Sampler[int]):
    """Each pass over `size` samples in one random order from `generator`, drawn as the pass begins.

    torch's RandomSampler draws a second, empty permutation from its generator when it runs out. Training
    augments from the same generator, and workers prefetch: they reach that end before the pass's last
    batches are augmented, so the worker count changed the model trained. This draws once, as
    RandomSampler's first draw (the same order, so runs without workers train exactly as before).
    """

    def __init__(self, size: int, generator: torch.Generator) -> None:
        self.size, self.generator = size, generator

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        yield from torch.randperm(self.size, generator=self.generator).tolist()


def loader_workers(dataset: Dataset, device: str) -> int:
    """Worker processes for a pass over `dataset` feeding `device`: $COMPRESSOR_DATA_WORKERS for datasets
    that read files, else, for CUDA, one per core but one (the main process drives the GPU), at most
    MAX_WORKERS, the cores shared among the processes torchrun started on this machine; none for the CPU
    or for datasets in memory."""
    if not _reads_files(dataset):
        return 0
    configured = os.environ.get(WORKERS_VARIABLE)
    if configured is not None:
        if not configured.isdigit():
            raise OptionError(f"{WORKERS_VARIABLE} must be a whole number of worker processes, got {configured!r}")
        return int(configured)
    if not device.startswith("cuda"):
        return 0
    cores = (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return min(MAX_WORKERS, max(1, cores - 1))


def _reads_files(dataset: Dataset) -> bool:
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return bool(getattr(dataset, "reads_files", False))


class _Loader(DataLoader):
    """A DataLoader whose workers' errors reach the user as the one line they were raised with.

    torch re-raises an error from a worker with its whole traceback in the message ("Caught DataError in
    DataLoader worker process 0. Original Traceback ..."); the CLI prints messages as they are.
    """

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        batches = super().__iter__()
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except CompressorError as error:
                raise type(error)(_raised_message(str(error))) from None
            yield batch


def _raised_message(message: str) -> str:
    """The message an error was raised with in a worker, from torch's re-raised text (the traceback's
    last line, 'module.ErrorClass: message'); any other message as it is."""
    if not message.startswith("Caught "):
        return message
    last = message.rstrip().splitlines()[-1]
    return last.split(": ", 1)[1] if ": " in last else last
