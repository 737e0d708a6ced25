"""One dequantization per int8 tensor for all the float ops that read it.

onnxruntime gives every consumer of a DequantizeLinear its own copy (EnsureUniqueDQForNodeUnit), and
the copies of consumers that stay in float all run. Routing those through a one-input `Sum` (an exact
copy onnxruntime keeps) dequantizes the tensor once; the speed tuner decides whether that pays.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import onnx
from onnx import helper

SHARED_SUFFIX = "_shared"


def _is_float_consumer(node: onnx.NodeProto, consumers: dict[str, list[onnx.NodeProto]]) -> bool:
    """A node that onnxruntime will not fuse into a quantized op: it neither is nor feeds a QuantizeLinear."""
    if node.op_type == "QuantizeLinear":
        return False
    return not any(reader.op_type == "QuantizeLinear" for output in node.output for reader in consumers[output])


def share_dequantization(source: Path, target: Path) -> int:
    """Write `source` to `target` with shared dequantization; returns how many tensors were rerouted."""
    model = onnx.load(str(source))
    graph = model.graph
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    nodes: list[onnx.NodeProto] = []
    rerouted = 0
    for node in graph.node:
        nodes.append(node)
        if node.op_type != "DequantizeLinear":
            continue
        readers = {id(r): r for r in consumers[node.output[0]] if _is_float_consumer(r, consumers)}.values()
        if len(readers) < 2:
            continue
        shared = node.output[0] + SHARED_SUFFIX
        nodes.append(helper.make_node("Sum", [node.output[0]], [shared], name=node.name + SHARED_SUFFIX))
        for reader in readers:
            reader.input[:] = [shared if name == node.output[0] else name for name in reader.input]
        rerouted += 1
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(target))
    return rerouted
