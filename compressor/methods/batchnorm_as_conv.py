"""A BatchNormalization that no convolution can absorb, rewritten as the 1x1 depthwise Conv it equals.

In pre-activation networks (DenseNet) nothing precedes a BatchNormalization to fold into, and
onnxruntime has no integer one: int8 runs it in float, with a dequantize, a quantize and two layout
transposes per layer. As a 1x1 depthwise Conv it is an integer kernel, exact in per-channel int8; the
float model computes the same numbers either way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

# BatchNormalization over (N, C, L) or (N, C, H, W): the layouts a 1-D or 2-D Conv takes.
CONV_RANKS = (3, 4)
# The doc string of each rewritten node: later passes (the speed tuner's groups) tell them from a
# model's own 1x1 depthwise convolutions by it.
REWRITTEN = "BatchNormalization rewritten as a 1x1 depthwise Conv"


def is_rewritten_batchnorm(node: onnx.NodeProto) -> bool:
    return node.op_type == "Conv" and node.doc_string == REWRITTEN


def _ranks(graph: onnx.GraphProto) -> dict[str, int]:
    """The rank of every tensor shape inference could tell."""
    values = [*graph.input, *graph.value_info, *graph.output]
    shaped = [value for value in values if value.type.tensor_type.HasField("shape")]
    return {value.name: len(value.type.tensor_type.shape.dim) for value in shaped}


def _as_conv(
    node: onnx.NodeProto, params: list[np.ndarray], rank: int
) -> tuple[onnx.NodeProto, list[onnx.TensorProto]]:
    """The depthwise Conv computing `node`: weight gamma / sqrt(var + eps), bias beta - mean * weight."""
    epsilon = next((attribute.f for attribute in node.attribute if attribute.name == "epsilon"), 1e-5)
    gamma, beta, mean, var = (array.astype(np.float64) for array in params)
    scale = gamma / np.sqrt(var + epsilon)
    channels, kernel = scale.size, [1] * (rank - 2)
    stem = node.name or node.output[0]  # a name of its own for each rewritten node's tensors
    weight = numpy_helper.from_array(scale.astype(np.float32).reshape(channels, 1, *kernel), f"{stem}_conv_weight")
    bias = numpy_helper.from_array((beta - mean * scale).astype(np.float32), f"{stem}_conv_bias")
    conv = helper.make_node(
        "Conv", [node.input[0], weight.name, bias.name], [node.output[0]], name=node.name, group=channels,
        kernel_shape=kernel, doc_string=REWRITTEN,
    )  # fmt: skip
    return conv, [weight, bias]


def batchnorms_as_convs(model_path: Path) -> int:
    """Rewrite, in place, every inference-mode BatchNormalization of a 1-D or 2-D feature map (constant
    float32 parameters, one output) as a depthwise Conv; returns how many were rewritten. Node names are
    kept, so exclusions by name still apply. A file with nothing to rewrite is not written."""
    structure = onnx.load(str(model_path), load_external_data=False).graph
    if not any(node.op_type == "BatchNormalization" for node in structure.node):
        return 0
    model = onnx.load(str(model_path))
    graph = model.graph
    ranks = _ranks(onnx.shape_inference.infer_shapes(model).graph)
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    nodes, added, replaced = [], [], set()
    for node in graph.node:
        params = [initializers.get(name) for name in node.input[1:5]] if node.op_type == "BatchNormalization" else []
        rewritable = (
            bool(params)
            and len(node.output) == 1
            and ranks.get(node.input[0]) in CONV_RANKS
            and all(p is not None and p.data_type == onnx.TensorProto.FLOAT for p in params)
        )
        if not rewritable:
            nodes.append(node)
            continue
        conv, tensors = _as_conv(node, [numpy_helper.to_array(p) for p in params], ranks[node.input[0]])  # type: ignore[arg-type]
        nodes.append(conv)
        added += tensors
        replaced.update(node.input[1:5])
    if not added:
        return 0
    still_read = {name for node in nodes for name in node.input}
    kept = [tensor for tensor in graph.initializer if tensor.name not in replaced or tensor.name in still_read]
    del graph.node[:], graph.initializer[:]
    graph.node.extend(nodes)
    graph.initializer.extend(kept + added)
    onnx.save(model, str(model_path))
    return len(added) // 2
