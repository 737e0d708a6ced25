"""Calibration batches for onnxruntime's quantizer, streamed from the train split (never from val)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from onnxruntime.quantization import CalibrationDataReader
from torch.utils.data import Dataset

from compressor.core.handle import InputSpec
from compressor.data.loader import data_loader
from compressor.runtime.onnxruntime_runner import as_fed
from compressor.tasks.base import Task

CALIBRATION_BATCH = 16


class DatasetCalibrationReader(CalibrationDataReader):
    """Feeds prepared batches (the model's own normalisation) one by one; `rewind` starts over for another pass."""

    def __init__(
        self,
        dataset: Dataset,
        task: Task,
        spec: InputSpec,
        input_names: list[str],
        batch_size: int | None = None,
        input_dtypes: list[type | None] | None = None,
    ) -> None:
        """`batch_size`: the one a graph with a static batch axis takes (a file from elsewhere), whole
        batches only; otherwise the task's fixed batch or CALIBRATION_BATCH. `input_dtypes`: what each
        input takes where it is not float32 (a file from elsewhere taking uint8 pixels)."""
        self.dataset, self.task, self.spec, self.input_names = dataset, task, spec, input_names
        self.input_dtypes = input_dtypes or [None] * len(input_names)
        self.static_batch = batch_size is not None
        self.batch_size = batch_size or task.fixed_batch_size or CALIBRATION_BATCH
        self._batches: Iterator[dict[str, np.ndarray]] = iter(())
        self.rewind()

    def _generate(self) -> Iterator[dict[str, np.ndarray]]:
        loader = data_loader(
            self.dataset,
            self.batch_size,
            shuffle=False,
            collate_fn=self.task.collate,
            drop_last=self.static_batch,
        )
        for batch in loader:
            inputs, _ = self.task.prepare_batch(batch, self.spec)
            fed = zip(self.input_names, self.input_dtypes, inputs, strict=True)
            yield {name: as_fed(tensor.numpy(), dtype) for name, dtype, tensor in fed}

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)

    def rewind(self) -> None:
        self._batches = self._generate()

    def __len__(self) -> int:
        samples = len(self.dataset)  # type: ignore[arg-type]
        return samples // self.batch_size if self.static_batch else -(-samples // self.batch_size)
