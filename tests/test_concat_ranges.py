"""Concats share one quantization range with their inputs (merged over Concats that share a tensor), so
onnxruntime's int8 concatenation copies bytes instead of requantizing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization.calibrate import CalibrationMethod, TensorsData

from compressor.methods.concat_ranges import share_concat_ranges
from compressor.methods.ort_ranges import load_ranges, save_ranges


def _dense_block(path: Path) -> None:
    """DenseNet's pattern: f1 joins two concatenations (cat1 = [x, f1], cat2 = [x, f1, f2]); a third
    Concat takes a constant, which int8 cannot share a range with."""
    nodes = [
        helper.make_node("Relu", ["x"], ["f1"], name="f1"),
        helper.make_node("Concat", ["x", "f1"], ["cat1"], name="cat1", axis=1),
        helper.make_node("Sigmoid", ["cat1"], ["f2"], name="f2"),
        helper.make_node("Concat", ["x", "f1", "f2"], ["cat2"], name="cat2", axis=1),
        helper.make_node("Tanh", ["cat2"], ["t"], name="tanh"),
        helper.make_node("Concat", ["t", "const"], ["y"], name="cat3", axis=1),
    ]
    const = numpy_helper.from_array(np.ones((1, 2, 4, 4), np.float32), "const")
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 12, 4, 4])],
        [const],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


RANGES = {"x": (-3.0, 2.0), "f1": (0.0, 2.0), "cat1": (-3.0, 2.0), "f2": (0.0, 1.0), "cat2": (-3.0, 2.5),
          "t": (-1.0, 1.0), "y": (-1.0, 1.0)}  # fmt: skip


def test_connected_concats_get_the_union_of_their_ranges(tmp_path: Path) -> None:
    model, ranges = tmp_path / "model.onnx", tmp_path / "ranges.json"
    _dense_block(model)
    data = {name: (np.float32(low), np.float32(high)) for name, (low, high) in RANGES.items()}
    save_ranges(TensorsData(CalibrationMethod.MinMax, data), ranges)

    assert share_concat_ranges(model, ranges) == 2  # cat1 and cat2; cat3 reads a constant

    merged = {name: tuple(float(v) for v in value.range_value) for name, value in load_ranges(ranges).items()}
    assert {merged[name] for name in ("x", "f1", "cat1", "f2", "cat2")} == {(-3.0, 2.5)}
    assert merged["t"] == (-1.0, 1.0) and merged["y"] == (-1.0, 1.0)  # cat3 left as it was


def test_nothing_to_share_leaves_the_ranges_file_alone(tmp_path: Path) -> None:
    model, ranges = tmp_path / "model.onnx", tmp_path / "ranges.json"
    _dense_block(model)
    data = {"t": (np.float32(-1.0), np.float32(1.0)), "y": (np.float32(-1.0), np.float32(1.0))}
    save_ranges(TensorsData(CalibrationMethod.MinMax, data), ranges)
    before = ranges.read_bytes()

    assert share_concat_ranges(model, ranges) == 0
    assert ranges.read_bytes() == before
