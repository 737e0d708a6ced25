"""One quantization range for the inputs and the output of each Concat, so int8 concatenation is a copy.

onnxruntime's QLinearConcat requantizes every input whose scale or zero point differs from the
output's, and copies bytes when all share one. A tensor read by several Concats (DenseNet) ties them
together, so ranges are merged over connected groups: each gets the union of its members' ranges.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization.calibrate import TensorData

from compressor.methods.ort_ranges import load_ranges, save_ranges


class _Groups:
    """Union-find over tensor names."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        self.parent.setdefault(name, name)
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def join(self, first: str, second: str) -> None:
        self.parent[self.find(first)] = self.find(second)

    def members(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for name in self.parent:
            groups.setdefault(self.find(name), []).append(name)
        return groups


def _widened(data: TensorData, low: np.ndarray, high: np.ndarray) -> TensorData:
    """`data` with the range (low, high); histograms and other fields kept."""
    fields = {key: value for key, value in data.to_dict().items() if key != "CLS"}
    return TensorData(**{**fields, "lowest": low, "highest": high})


def share_concat_ranges(model_path: Path, ranges: Path) -> int:
    """Give every Concat whose inputs and output all have a finite calibrated range one range shared by
    them (the union over connected Concats), rewriting the calibration cache `ranges` in place; returns
    how many Concats share one. A Concat with a constant or unranged input is left as it is."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    data = load_ranges(ranges)
    groups, shared = _Groups(), 0
    for node in graph.node:
        if node.op_type != "Concat":
            continue
        tensors = [*node.input, *node.output]
        if not all(name in data and np.all(np.isfinite(data[name].range_value)) for name in tensors):
            continue
        shared += 1
        for name in tensors[1:]:
            groups.join(tensors[0], name)
    if not shared:
        return 0
    for members in groups.members().values():
        low = np.min([data[name].range_value[0] for name in members]).astype(np.float32)
        high = np.max([data[name].range_value[1] for name in members]).astype(np.float32)
        for name in members:
            data[name] = _widened(data[name], low, high)
    save_ranges(data, ranges)
    return shared
