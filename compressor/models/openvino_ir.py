"""An OpenVINO IR (.xml beside its .bin) as a model: written with our description in its rt_info, read back
into a handle that only the openvino backend runs.

The description is the one our ONNX files carry (`onnx_file.METADATA_KEY`), so an IR reloads by path with
its input size, normalisation, framing and class names. OpenVINO's Model API keys (`model_info`: labels,
mean and scale in pixel units, resize type) are written too, for Intel's own pipelines.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from compressor.core.errors import InputFileError
from compressor.core.files import make_folder
from compressor.core.handle import ModelHandle
from compressor.models.onnx_file import METADATA_KEY, described_handle
from compressor.runtime.openvino_runner import import_openvino, read_model

IR_SUFFIX = ".xml"
RT_INFO_PATH = [METADATA_KEY, "metadata"]  # where our description sits in the IR's rt_info
MODEL_API_TYPES = {"classification": "Classification", "detection": "SSD"}
MODEL_API_RESIZE = {"crop": "crop", "squash": "standard", "letterbox": "fit_to_window_letterbox"}


def is_openvino_ir(path: str | Path | None) -> bool:
    return path is not None and Path(path).suffix == IR_SUFFIX


def weights_file(xml: Path) -> Path:
    return xml.with_suffix(".bin")


def model_api_info(handle: ModelHandle) -> dict[str, str]:
    """The `model_info` keys OpenVINO's Model API reads for an image model: pixel-unit mean and scale."""
    spec = handle.input_spec
    if handle.task not in MODEL_API_TYPES or spec.dtype != "float32":
        return {}
    info = {
        "model_type": MODEL_API_TYPES[handle.task],
        "labels": " ".join(name.replace(" ", "_") for name in handle.class_names),
        "mean_values": " ".join(f"{value * 255:g}" for value in spec.mean),
        "scale_values": " ".join(f"{value * 255:g}" for value in spec.std),
        "resize_type": MODEL_API_RESIZE[spec.fit],
    }
    return info | ({"pad_value": str(spec.pad)} if spec.pad is not None else {})


def save_openvino_ir(model: Any, handle: ModelHandle, target: Path, extra: dict[str, Any]) -> ModelHandle:
    """Write `model` (an openvino.Model) as `target` (.xml, its .bin beside) with `handle`'s description plus
    `extra`; returns the IR's handle. Weights stay in their precision (no fp16 compression)."""
    openvino = import_openvino()
    metadata = {**handle.metadata, **handle.describe(), **extra, "format": "openvino"}
    model.set_rt_info(json.dumps(metadata), RT_INFO_PATH)
    for key, value in model_api_info(handle).items():
        model.set_rt_info(value, ["model_info", key])
    make_folder(target.parent)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent) as staging:
        staged = Path(staging) / "model.xml"  # the .bin is named after the .xml: stage both, then move
        openvino.save_model(model, str(staged), compress_to_fp16=False)
        os.replace(weights_file(staged), weights_file(target))
        os.replace(staged, target)
    return dataclasses.replace(handle, module=None, onnx_path=target, source=str(target), metadata=metadata)


def onnx_as_openvino_ir(handle: ModelHandle, target: Path) -> ModelHandle:
    """The handle's ONNX file converted to an IR as it is (float stays float, Q/DQ becomes FakeQuantize)."""
    assert handle.onnx_path is not None
    return save_openvino_ir(read_model(handle.onnx_path), handle, target, {})


def read_openvino_ir(path: str | Path) -> ModelHandle:
    """An IR we wrote, as a handle; one without our description is refused (its input is not known)."""
    path = Path(path)
    if not path.is_file() or not weights_file(path).is_file():
        raise InputFileError(f"OpenVINO IR not found: {path} and {weights_file(path).name} beside it")
    model = read_model(path)
    if not model.has_rt_info(RT_INFO_PATH):
        raise InputFileError(
            f"{path} is an OpenVINO IR without compressor's description of its input; give the .onnx file it "
            "came from, or write the IR with `compress export --format openvino`"
        )
    return described_handle(json.loads(model.get_rt_info(RT_INFO_PATH).astype(str)), path)
