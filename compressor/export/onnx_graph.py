"""What an ONNX graph asks of its caller."""

from __future__ import annotations

import onnx


def fed_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The graph inputs a caller feeds, in order: older exporters list the weights among them too."""
    initializers = {tensor.name for tensor in model.graph.initializer}
    return [value for value in model.graph.input if value.name not in initializers]
