"""Shared dequantization: float consumers of an int8 tensor read one DequantizeLinear, not a copy each."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from compressor.methods.shared_dequantization import share_dequantization

FLOAT_READERS = ("Relu", "Sigmoid", "Neg")


def _int8_tensor_read_by_three_float_ops(path: Path) -> None:
    """x -> QuantizeLinear -> DequantizeLinear -> Relu / Sigmoid / Neg, and a requantized branch."""
    scale = numpy_helper.from_array(np.array(0.05, dtype=np.float32), "scale")
    zero = numpy_helper.from_array(np.array(128, dtype=np.uint8), "zero")
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["xq"], name="q"),
        helper.make_node("DequantizeLinear", ["xq", "scale", "zero"], ["xf"], name="dq"),
        *(helper.make_node(op, ["xf"], [op.lower()], name=op.lower()) for op in FLOAT_READERS),
        helper.make_node("MaxPool", ["xf"], ["pooled"], name="pool", kernel_shape=[2, 2]),
        helper.make_node("QuantizeLinear", ["pooled", "scale", "zero"], ["pq"], name="q_pool"),
        helper.make_node("DequantizeLinear", ["pq", "scale", "zero"], ["pool_out"], name="dq_pool"),
    ]
    value = lambda name, shape: helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)  # noqa: E731
    graph = helper.make_graph(
        nodes,
        "g",
        [value("x", [1, 4, 8, 8])],
        [*(value(op.lower(), [1, 4, 8, 8]) for op in FLOAT_READERS), value("pool_out", [1, 4, 4, 4])],
        [scale, zero],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), str(path))


def _dequantize_nodes_at_run_time(path: Path, scratch: Path) -> int:
    """DequantizeLinear nodes left after onnxruntime's own graph optimisation."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(scratch / f"optimized-{path.name}")
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    counts = Counter(node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node)
    return counts["DequantizeLinear"]


def test_float_readers_share_one_dequantization_with_identical_outputs(tmp_path: Path) -> None:
    plain, shared = tmp_path / "plain.onnx", tmp_path / "shared.onnx"
    _int8_tensor_read_by_three_float_ops(plain)

    assert share_dequantization(plain, shared) == 1

    graph = onnx.load(str(shared)).graph
    readers = {node.name: list(node.input) for node in graph.node}
    assert all(readers[op.lower()] == ["xf_shared"] for op in FLOAT_READERS)
    assert readers["pool"] == ["xf"]  # it feeds a QuantizeLinear: onnxruntime fuses it, it keeps its own copy
    x = np.random.default_rng(0).normal(size=(1, 4, 8, 8)).astype(np.float32)
    before = ort.InferenceSession(str(plain), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    after = ort.InferenceSession(str(shared), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert _dequantize_nodes_at_run_time(shared, tmp_path) < _dequantize_nodes_at_run_time(plain, tmp_path)


def test_nothing_to_share_leaves_the_graph_alone(tmp_path: Path) -> None:
    plain, shared = tmp_path / "plain.onnx", tmp_path / "shared.onnx"
    _int8_tensor_read_by_three_float_ops(plain)
    model = onnx.load(str(plain))
    kept = [node for node in model.graph.node if node.name not in ("sigmoid", "neg")]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    del model.graph.output[1:3]
    onnx.save(model, str(plain))

    assert share_dequantization(plain, shared) == 0
    assert [n.op_type for n in onnx.load(str(shared)).graph.node] == [n.op_type for n in kept]
