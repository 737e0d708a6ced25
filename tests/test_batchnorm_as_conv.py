"""BatchNormalizations no convolution absorbs become 1x1 depthwise Convs: the same numbers in float, an
integer kernel in int8, and a tuner group of their own."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from compressor import commands
from compressor.methods.batchnorm_as_conv import batchnorms_as_convs
from compressor.methods.quantize import Int8Request
from compressor.methods.speed_tune import BATCHNORM_CONV, candidate_groups

PRE_ACTIVATION_NET = '''
import torch
from torch import nn


class PreActivation(nn.Module):
    """DenseNet's pattern: features concatenated, then BatchNorm-ReLU-Conv (no Conv before the norm)."""

    def __init__(self, num_classes):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.norm = nn.BatchNorm2d(32)
        self.conv = nn.Conv2d(32, 32, 3, padding=1)
        self.head = nn.Linear(32, num_classes)
        self.norm.running_mean.uniform_(-1, 1)
        self.norm.running_var.uniform_(0.5, 2)

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([x, torch.relu(x)], dim=1)
        x = self.conv(torch.relu(self.norm(x)))
        return self.head(x.mean(dim=(2, 3)))


def build(num_classes):
    return PreActivation(num_classes)
'''


def _concat_then_norms(path: Path) -> None:
    """x -> Conv -> Concat(x, conv) -> BatchNormalization -> Relu -> Conv, and a BatchNormalization on a
    flattened (N, C) tensor, which no Conv can compute."""
    rng = np.random.default_rng(0)
    tensor = lambda array, name: numpy_helper.from_array(array.astype(np.float32), name)  # noqa: E731
    initializers = [
        tensor(rng.normal(size=(6, 4, 3, 3)), "w1"),
        tensor(rng.normal(size=(3, 10, 1, 1)), "w2"),
        tensor(rng.uniform(0.5, 2, 10), "gamma"),
        tensor(rng.normal(size=10), "beta"),
        tensor(rng.normal(size=10), "mean"),
        tensor(rng.uniform(0.1, 3, 10), "var"),
        tensor(rng.uniform(0.5, 2, 192), "gamma_flat"),
        tensor(rng.normal(size=192), "beta_flat"),
        tensor(rng.normal(size=192), "mean_flat"),
        tensor(rng.uniform(0.1, 3, 192), "var_flat"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["x", "c1"], ["cat"], name="cat", axis=1),
        helper.make_node("BatchNormalization", ["cat", "gamma", "beta", "mean", "var"], ["bn"], name="norm"),
        helper.make_node("Relu", ["bn"], ["act"], name="relu"),
        helper.make_node("Conv", ["act", "w2"], ["c2"], name="conv2"),
        helper.make_node("Flatten", ["c2"], ["flat"], name="flatten"),
        helper.make_node(
            "BatchNormalization", ["flat", "gamma_flat", "beta_flat", "mean_flat", "var_flat"], ["y"], name="norm_flat"
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 192])],
        initializers,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_a_norm_after_a_concat_becomes_a_depthwise_conv_with_the_same_outputs(tmp_path: Path) -> None:
    plain, rewritten = tmp_path / "plain.onnx", tmp_path / "rewritten.onnx"
    _concat_then_norms(plain)
    shutil.copy(plain, rewritten)

    assert batchnorms_as_convs(rewritten) == 1
    assert batchnorms_as_convs(rewritten) == 0  # the flattened one stays as it is

    model = onnx.load(str(rewritten))
    nodes = {node.name: node for node in model.graph.node}
    assert nodes["norm"].op_type == "Conv" and nodes["norm_flat"].op_type == "BatchNormalization"
    attributes = {a.name: helper.get_attribute_value(a) for a in nodes["norm"].attribute}
    assert attributes == {"group": 10, "kernel_shape": [1, 1]}
    initializers = {tensor.name for tensor in model.graph.initializer}
    assert not initializers & {"gamma", "beta", "mean", "var"} and "gamma_flat" in initializers
    x = np.random.default_rng(1).normal(size=(2, 4, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(_run(rewritten, x), _run(plain, x), rtol=1e-4, atol=1e-4)


def test_the_speed_tuner_tries_the_rewritten_norms_as_a_group_of_their_own(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    _concat_then_norms(model)
    batchnorms_as_convs(model)
    # and a 1x1 depthwise Conv of the model's own, which is no BatchNormalization
    graph = onnx.load(str(model))
    graph.graph.initializer.append(numpy_helper.from_array(np.ones((6, 1, 1, 1), np.float32), "w_own"))
    graph.graph.node.append(
        helper.make_node("Conv", ["c1", "w_own"], ["own"], name="own", group=6, kernel_shape=[1, 1])
    )
    graph.graph.output.append(helper.make_tensor_value_info("own", TensorProto.FLOAT, None))
    onnx.save(graph, str(model))

    groups = candidate_groups(model, exclude=[])

    assert groups[BATCHNORM_CONV] == ["norm"] and groups["depthwise Conv"] == ["own"]
    assert groups["BatchNormalization"] == ["norm_flat"]


def test_int8_quantizes_a_pre_activation_norm_as_a_convolution(tmp_path: Path) -> None:
    factory = tmp_path / "preact.py"
    factory.write_text(PRE_ACTIVATION_NET)
    out = tmp_path / "q"
    request = Int8Request(tune_speed=False, calib_samples=32)
    commands.quantize(f"{factory}:build", out, "int8", weights="random", int8=request, batch_sizes=[1], max_samples=64)

    quantization = json.loads((out / "report.json").read_text())["quantization"]
    assert quantization["batchnorms_as_convs"] == 1
    assert quantization["concats_sharing_ranges"] == 1  # the torch.cat before the norm (see test_concat_ranges)
    ops = Counter(node.op_type for node in onnx.load(str(out / "model.int8.onnx")).graph.node)
    assert ops["BatchNormalization"] == 0 and ops["Conv"] == 3  # stem, the norm, conv (all fed by Q/DQ)
    x = np.random.default_rng(2).uniform(size=(4, 3, 64, 64)).astype(np.float32)
    fp32, int8 = _run(out / "baseline.onnx", x), _run(out / "model.int8.onnx", x)
    assert np.abs(int8 - fp32).max() < 0.1 * np.abs(fp32).max()  # int8's rounding, not another function
