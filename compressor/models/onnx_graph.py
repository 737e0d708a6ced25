"""What an ONNX graph asks of its caller."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import helper, version_converter


def fed_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The graph inputs a caller feeds, in order: older exporters list the weights among them too."""
    initializers = {tensor.name for tensor in model.graph.initializer}
    return [value for value in model.graph.input if value.name not in initializers]


def onnx_opset(model: onnx.ModelProto) -> int | None:
    """The ai.onnx opset the model declares (None if it imports none)."""
    return next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)


def fed_input_names(path: Path) -> list[str]:
    """The names a caller feeds the ONNX file at `path` by (a file from elsewhere has its own)."""
    return [value.name for value in fed_inputs(onnx.load(str(path), load_external_data=False))]


def fed_input_dtypes(path: Path) -> list[type | None]:
    """The numpy type each fed input of the file at `path` takes where it is not float32, else None."""
    kinds = [value.type.tensor_type.elem_type for value in fed_inputs(onnx.load(str(path), load_external_data=False))]
    return [None if kind == onnx.TensorProto.FLOAT else helper.tensor_dtype_to_np_dtype(kind).type for kind in kinds]


def converted_to_opset(model: onnx.ModelProto, version: int, target: Path) -> Path:
    """`model` converted by ONNX's version converter to opset `version`, checked, and saved at `target`.
    Raises whatever the converter raises for an operator it cannot move (callers decide what that means)."""
    converted = version_converter.convert_version(model, version)
    onnx.checker.check_model(converted)
    onnx.save(converted, str(target))
    return target
