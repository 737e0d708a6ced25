"""A calibration reader over batches held in memory, for the int8 tests that call `calibrate` directly."""

from __future__ import annotations

import numpy as np


class ListReader:
    """The two calls `calibrate` makes of a calibration reader, over one input named `x`."""

    def __init__(self, batches: list[np.ndarray]) -> None:
        self.batches, self.position = batches, 0

    def rewind(self) -> None:
        self.position = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        self.position += 1
        return {"x": self.batches[self.position - 1]} if self.position <= len(self.batches) else None
