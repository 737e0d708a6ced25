"""An ONNX file as a model: read into a handle (our metadata, or what a foreign graph says), checked for
data kept outside its folder, and its batch axis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import onnx

from compressor.core.errors import InputFileError, brief
from compressor.core.handle import InputSpec, ModelHandle
from compressor.models.foreign_onnx import foreign_onnx_handle
from compressor.models.onnx_graph import fed_inputs
from compressor.models.precision import onnx_graph_precision

METADATA_KEY = "compressor"  # the metadata_props entry holding the handle's description


def _stored_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Initializers and constant attributes, subgraphs (If, Loop) included."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _stored_tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _stored_tensors(subgraph)


def check_external_data(model: onnx.ModelProto, path: Path) -> None:
    """Refuse tensors stored outside the model's folder: a downloaded model must not make us read (and
    maybe report or copy) arbitrary files such as ../../home/user/.ssh/id_rsa."""
    folder = path.resolve().parent
    for tensor in _stored_tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((entry.value for entry in tensor.external_data if entry.key == "location"), "")
        target = (folder / location).resolve()
        if not target.is_relative_to(folder):
            raise InputFileError(
                f"{path}: tensor {tensor.name!r} keeps its data at {location!r}, outside the model's folder; refused"
            )
        if not target.is_file():
            raise InputFileError(f"{path}: external data file {location!r} of tensor {tensor.name!r} is missing")


def read_onnx_handle(path: str | Path, image_size: tuple[int, int] | None = None) -> ModelHandle:
    """An ONNX file as a handle: our metadata when present, otherwise what the graph itself says (a dynamic
    height and width taking `image_size`)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"ONNX file not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001  (protobuf raises its own DecodeError types)
        raise InputFileError(f"{path} is not a readable ONNX model (truncated or corrupt?): {brief(error)}") from error
    check_external_data(model, path)
    props = {prop.key: prop.value for prop in model.metadata_props}
    if METADATA_KEY in props:
        meta = json.loads(props[METADATA_KEY])
        if "precision" not in meta:  # baseline exports and files written before precision was recorded
            meta["precision"] = onnx_graph_precision(model)
        return described_handle(meta, path)
    return foreign_onnx_handle(model, path, image_size)


def described_handle(meta: dict, path: Path) -> ModelHandle:
    """The handle of a model file (ONNX, OpenVINO IR) from the description we wrote into it."""
    return ModelHandle(
        name=meta["name"],
        task=meta["task"],
        input_spec=InputSpec.from_dict(meta["input_spec"]),
        class_names=list(meta["class_names"]),
        onnx_path=path,
        source=str(path),
        weights=meta.get("weights", ""),
        metadata=meta,
    )


def static_batch_size(path: Path) -> int | None:
    """The batch size an ONNX graph is fixed to (a Jetson bundle's, many downloaded files'), or None
    when its batch axis is dynamic."""
    fed = fed_inputs(onnx.load(str(path), load_external_data=False))
    dims = list(fed[0].type.tensor_type.shape.dim) if fed else []
    return int(dims[0].dim_value) if dims and dims[0].HasField("dim_value") and dims[0].dim_value > 0 else None
