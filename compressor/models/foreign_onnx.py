"""An ONNX classifier compressor did not write: its input read from the graph, its pixels from ONNX's
image metadata.

A wrong guess at the normalisation costs accuracy silently, so ONNX's image metadata
(onnx/docs/MetadataProps.md: `Image.BitmapPixelFormat`, `Image.NominalPixelRange`) is followed where
present; otherwise ImageNet's normalisation is assumed, with a warning and a report note.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from compressor.core.errors import InputFileError
from compressor.core.handle import InputSpec, ModelHandle
from compressor.models.onnx_graph import fed_inputs
from compressor.models.pixel_input import PIXEL_STD
from compressor.models.precision import onnx_graph_precision

PIXEL_FORMAT_KEY = "Image.BitmapPixelFormat"
PIXEL_RANGE_KEY = "Image.NominalPixelRange"
PIXEL_FORMAT_CHANNELS = {"rgb8": 3, "gray8": 1}  # BGR and alpha formats are refused: the data here is RGB
# (mean, std) per channel of pixels scaled to 0-1, for each range ONNX names (16-235 video range: refused).
PIXEL_RANGES = {
    "nominalrange_0_255": (0.0, 1 / 255),
    "normalized_0_1": (0.0, 1.0),
    "normalized_1_1": (0.5, 0.5),
}
DYNAMIC_SIZE_DEFAULT = (224, 224)  # as for a file.py:factory model on data without a size of its own
ASSUMED = (
    "ImageNet normalisation assumed: the file records neither ONNX's Image.NominalPixelRange "
    "(NominalRange_0_255, Normalized_0_1 or Normalized_1_1) nor compressor's metadata"
)


def foreign_onnx_handle(model: onnx.ModelProto, path: Path, image_size: tuple[int, int] | None = None) -> ModelHandle:
    """A foreign classifier: one NCHW float input with static channels, logits out. Height and width left
    dynamic take `image_size` (--image-size, or the data's own), else 224x224."""
    graph_inputs = fed_inputs(model)
    if len(graph_inputs) != 1 or len(model.graph.output) < 1:
        raise InputFileError(
            f"{path}: expected one image input; found {len(graph_inputs)} inputs. "
            "Export it with `compress export` to record its task and input spec."
        )
    dims = [d.dim_value if d.HasField("dim_value") else None for d in graph_inputs[0].type.tensor_type.shape.dim]
    out_dims = [
        d.dim_value if d.HasField("dim_value") else None for d in model.graph.output[0].type.tensor_type.shape.dim
    ]
    if len(dims) != 4 or dims[1] is None or len(out_dims) != 2 or not out_dims[1]:
        raise InputFileError(
            f"{path}: input shape {dims} / output {out_dims} is not an NCHW classifier with a static channel "
            "count; export it with `compress export` to record its input spec."
        )
    if dims[3] in PIXEL_FORMAT_CHANNELS.values() and dims[1] not in PIXEL_FORMAT_CHANNELS.values():
        raise InputFileError(
            f"{path} takes images channels-last, {dims} (TensorFlow's NHWC); compressor feeds NCHW: convert the "
            f"model again with tf2onnx's --inputs-as-nchw {graph_inputs[0].name}"
        )
    metadata = {"precision": onnx_graph_precision(model)}
    if None in dims[2:]:
        chosen = image_size or DYNAMIC_SIZE_DEFAULT
        dims[2:] = [side if side is not None else chosen[axis] for axis, side in enumerate(dims[2:])]
        metadata["dynamic_size"] = f"fed {dims[2]}x{dims[3]} images (its input size is dynamic; --image-size sets it)"
    spec = InputSpec.image((dims[2], dims[3]), dims[1], str(path))
    props = {prop.key: prop.value for prop in model.metadata_props}
    normalisation = _recorded_normalisation(props, spec, path)
    if graph_inputs[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8:  # it takes pixels 0-255 as they are
        normalisation = (0.0,) * spec.shape[0], (PIXEL_STD,) * spec.shape[0]
    if normalisation is None:
        metadata["assumed"] = ASSUMED
    else:
        spec = InputSpec(shape=spec.shape, mean=normalisation[0], std=normalisation[1])
    return ModelHandle(
        name=path.stem,
        task="classification",
        input_spec=spec,
        class_names=[str(i) for i in range(int(out_dims[1]))],
        onnx_path=path,
        source=str(path),
        weights=str(path),
        metadata=metadata,
    )


def _recorded_normalisation(
    props: dict[str, str], spec: InputSpec, path: Path
) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """(mean, std) from the file's ONNX image metadata, None where it records no pixel range."""
    channels = spec.shape[0]
    pixel_format = props.get(PIXEL_FORMAT_KEY)
    if pixel_format is not None and PIXEL_FORMAT_CHANNELS.get(pixel_format.lower()) != channels:
        raise InputFileError(
            f"{path}: {PIXEL_FORMAT_KEY} is {pixel_format!r} for a {channels}-channel input; compressor feeds "
            "Rgb8 (3 channels) or Gray8 (1)"
        )
    pixel_range = props.get(PIXEL_RANGE_KEY)
    if pixel_range is None:
        return None
    if pixel_range.lower() not in PIXEL_RANGES:
        raise InputFileError(
            f"{path}: {PIXEL_RANGE_KEY} {pixel_range!r} is not one compressor feeds "
            "(NominalRange_0_255, Normalized_0_1, Normalized_1_1)"
        )
    mean, std = PIXEL_RANGES[pixel_range.lower()]
    return (mean,) * channels, (std,) * channels
