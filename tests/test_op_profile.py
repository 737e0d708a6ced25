"""The profiler's breakdown by op type, and which batch size `compress quantize` profiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from compressor.measurement.op_profile import OpTimes, op_type_times, profile_batch_size
from compressor.report.verdict import SpeedVerdict


def _convs_then_softmax(path: Path) -> None:
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.normal(size=(8, 3, 3, 3)).astype(np.float32), "w")
    depthwise = numpy_helper.from_array(rng.normal(size=(8, 1, 3, 3)).astype(np.float32), "w_dw")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c", "w_dw"], ["d"], name="depthwise", pads=[1, 1, 1, 1], group=8),
        helper.make_node("Softmax", ["d"], ["y"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 32, 32])],
        [weight, depthwise],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_each_op_type_onnxruntime_runs_gets_its_kernel_time(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    _convs_then_softmax(model)

    times = op_type_times(model, [torch.rand(1, 3, 32, 32)], runs=10)

    assert "Softmax" in times and {"Conv", "FusedConv"} & set(times)  # the types of the graph as optimised
    assert {"Conv (depthwise)", "FusedConv (depthwise)"} & set(times)  # grouped convolutions apart
    assert all(ms > 0 for ms in times.values())
    assert list(times.values()) == sorted(times.values(), reverse=True)
    assert not list(tmp_path.glob("*.json")) and not list(Path.cwd().glob("onnxruntime_profile*.json"))


def _verdict(batch_size: int, faster: bool, backend: str = "onnxruntime") -> SpeedVerdict:
    speedup = 1.5 if faster else 0.8
    return SpeedVerdict(
        variant="int8", backend=backend, device="cpu", batch_size=batch_size, speedup=speedup, faster=faster
    )


def test_the_profile_is_taken_where_int8_was_not_faster() -> None:
    assert profile_batch_size([_verdict(1, True), _verdict(16, False)], [1, 16]) == (16, True)
    assert profile_batch_size([_verdict(1, True), _verdict(16, True)], [1, 16]) == (1, False)
    assert profile_batch_size([_verdict(1, False, backend="torch")], [4, 16]) == (4, False)


def test_the_sentence_names_the_largest_op_types_of_both_models() -> None:
    times = OpTimes(1, {"Conv": 7.7, "If": 0.8}, {"QLinearConv": 8.4, "QLinearMul": 2.0, "HardSigmoid": 1.0})

    sentence = times.sentence("baseline", "int8")

    assert "batch 1" in sentence and "baseline Conv 7.70, If 0.80; int8 QLinearConv 8.40, QLinearMul 2.00" in sentence
    assert times.to_dict("baseline", "int8") == {"batch_size": 1, "baseline": times.reference, "int8": times.variant}
