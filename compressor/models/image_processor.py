"""The input a Hugging Face image classifier expects, read from its image processor's config.

`preprocessor_config.json` (written by the processor's `save_pretrained`) records the size the model
sees and the normalisation it was trained with. Both differ between families (ViT: 224x224 with mean
and std 0.5; ConvNeXt and ResNet: the shortest edge, ImageNet's statistics; DeiT: a centre crop of a
larger resize), so they are read, never guessed: a directory without the file is refused.
Only the JSON is read, so no image backend needs to be installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compressor.errors import InputFileError, brief
from compressor.models.handle import InputSpec

IMAGE_TASK = "classification"
PROCESSOR_CONFIG = "preprocessor_config.json"


def _square_or_box(value: Any) -> tuple[int, int] | None:
    """A processor size entry as (height, width): an int, {height, width}, or {shortest_edge} (square)."""
    if isinstance(value, int):
        return value, value
    if isinstance(value, dict):
        if "height" in value and "width" in value:
            return int(value["height"]), int(value["width"])
        if "shortest_edge" in value:
            return int(value["shortest_edge"]), int(value["shortest_edge"])
    return None


def processor_image_size(processor: dict[str, Any]) -> tuple[int, int] | None:
    """What the model is fed: the centre crop where the processor crops, else the resize target."""
    keys = ("crop_size", "size") if processor.get("do_center_crop") else ("size",)
    for key in keys:
        size = _square_or_box(processor.get(key))
        if size is not None:
            return size
    return None


def image_processor_spec(directory: Path) -> InputSpec:
    """The input spec (3 x height x width, mean, std) that `directory`'s image processor records."""
    path = directory / PROCESSOR_CONFIG
    if not path.is_file():
        raise InputFileError(
            f"{directory} is an image classifier without {PROCESSOR_CONFIG}: its input size and normalisation are "
            "unknown (save the model's image processor with save_pretrained into the same directory)"
        )
    try:
        processor = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InputFileError(f"{path}: unreadable image processor config: {brief(error)}") from error
    if not isinstance(processor, dict):
        raise InputFileError(f"{path}: an image processor config is a JSON object")
    size = processor_image_size(processor)
    if size is None:
        raise InputFileError(f"{path}: no input size (size or crop_size) recorded")
    rescale = processor.get("rescale_factor", 1 / 255) if processor.get("do_rescale", True) else 1.0
    if abs(float(rescale) - 1 / 255) > 1e-9:
        raise InputFileError(f"{path}: pixels rescaled by {rescale}; compressor feeds pixel values / 255")
    if not processor.get("do_normalize", True):
        return InputSpec(shape=(3, *size), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    mean, std = processor.get("image_mean"), processor.get("image_std")
    if not (isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std) == 3):
        raise InputFileError(f"{path}: image_mean and image_std must be 3 numbers each")
    return InputSpec(shape=(3, *size), mean=tuple(map(float, mean)), std=tuple(map(float, std)))
