"""The input a Hugging Face image classifier expects, read from its image processor's config.

`preprocessor_config.json` records the input size, framing and normalisation, which differ between
families, so they are read, never guessed: a directory without the file is refused, since a model
framed otherwise than it was trained loses accuracy. Only the JSON is read (no image backend needed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from compressor.core.errors import InputFileError, brief
from compressor.core.handle import InputSpec

IMAGE_TASK = "classification"
PROCESSOR_CONFIG = "preprocessor_config.json"


# PIL's resampling filters (the processor's `resample`) as torchvision names them, as transformers maps them.
_RESAMPLE = {0: "nearest-exact", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}
# Processor families whose class default filter is bicubic (transformers 5), for configs that leave
# `resample` out; the others default to bilinear.
_BICUBIC_BY_DEFAULT = (
    "Beit", "Bit", "CLIP", "ConvNext", "DeiT", "EfficientNet", "Levit", "MobileViT", "Perceiver", "PoolFormer",
    "Pvt", "Siglip",
)  # fmt: skip
# Processors whose plain-int `size` is a shortest edge (transformers' `default_to_square=False`); for the
# rest (ViT, DeiT, ...) an int is a square.
_INT_IS_SHORTEST_EDGE = (
    "ConvNext",
    "Bit",
    "CLIP",
    "ChineseCLIP",
    "MobileNetV1",
    "MobileNetV2",
    "MobileViT",
    "Levit",
    "PoolFormer",
)
# Steps outside resize, centre crop, normalise (and MobileViT's channel flip, done in the model), by the
# config key that turns them on, and processors that frame images another way (Perceiver crops before
# it resizes; ImageGPT quantizes colours): refused, not approximated, since a model framed otherwise
# than it was trained loses accuracy silently.
_OTHER_STEPS = ("do_thumbnail", "do_align_long_axis", "do_pad", "resize_short", "size_divisor")
_FRAMED_OTHERWISE = ("Perceiver", "ImageGPT")
_NEVER_NORMALISES = ("MobileViT",)  # no normalise step at all, whatever image_mean the config lists
_CONVNEXT_SQUASH_FROM = 384  # ConvNeXt's processor crops below this shortest edge and squashes from it


@dataclass(frozen=True)
class Framing:
    """How the processor turns an image into the model's input: a resize, then a centre crop.

    `resize` as torchvision's Resize takes it: (S,) the short side to S, aspect kept; (H, W) exactly.
    """

    resize: tuple[int, ...]
    crop: tuple[int, int]
    interpolation: str


def _size_entry(value: Any, int_is_shortest_edge: bool) -> tuple[int, ...] | None:
    """A processor size entry as a Resize argument: (S,) for a shortest edge, (H, W) for a box."""
    if isinstance(value, int):
        return (value,) if int_is_shortest_edge else (value, value)
    if isinstance(value, dict):
        if value.get("height") and value.get("width"):
            return int(value["height"]), int(value["width"])
        if value.get("shortest_edge"):
            return (int(value["shortest_edge"]),)
    return None  # longest_edge and other variable-size schemes: no fixed input size


def _as_box(size: tuple[int, ...]) -> tuple[int, int]:
    return (size[0], size[0]) if len(size) == 1 else (size[0], size[1])


def processor_framing(processor: dict[str, Any]) -> Framing | None:
    """The resize and centre crop `processor` applies, as its transformers class does; None without a size.

    ConvNeXt's (also ResNet's and RegNet's), LeViT's and PoolFormer's scale the resize as their classes
    do. A shortest-edge resize with no crop keeps the aspect in transformers; here the square centre is
    cropped, since an exported model takes one fixed size.
    """
    kind = _kind(processor)
    size = _size_entry(processor.get("size"), kind.startswith(_INT_IS_SHORTEST_EDGE))
    interpolation = _RESAMPLE[_resample_code(processor)]
    if size is None:
        return None
    if kind.startswith("ConvNext"):
        edge = size[0]
        if len(size) == 1 and edge < _CONVNEXT_SQUASH_FROM:
            return Framing((int(edge / float(processor.get("crop_pct") or 224 / 256)),), (edge, edge), interpolation)
        return Framing(_as_box(size), _as_box(size), interpolation)
    if kind.startswith("Levit") and len(size) == 1:
        size = (int(256 / 224 * size[0]),)
    if kind.startswith("PoolFormer") and processor.get("crop_pct"):
        size = tuple(int(side / float(processor["crop_pct"])) for side in size)
    crop = _size_entry(processor.get("crop_size"), False) if processor.get("do_center_crop") else None
    return Framing(size, _as_box(crop or size), interpolation)


def _kind(processor: dict[str, Any]) -> str:
    return str(processor.get("image_processor_type") or processor.get("feature_extractor_type") or "")


def _family(processor: dict[str, Any]) -> str:
    """The processor class without its suffix: ConvNext for ConvNextImageProcessor(Fast|Pil) and
    ConvNextFeatureExtractor alike."""
    return re.sub(r"(ImageProcessor(Fast|Pil)?|FeatureExtractor)$", "", _kind(processor))


def _resample_code(processor: dict[str, Any]) -> int:
    """The PIL filter code the processor resizes with: its config's, else its class default."""
    if "resample" in processor:
        return processor["resample"]
    return 3 if _family(processor) in _BICUBIC_BY_DEFAULT else 2


def _normalisation(processor: dict[str, Any], path: Path, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) of pixels / 255 as the processor normalises them, one value per channel the model reads.

    EfficientNet's divides by the std a second time for classification (`include_top`).
    """
    rescale = processor.get("rescale_factor", 1 / 255) if processor.get("do_rescale", True) else 1.0
    if abs(float(rescale) - 1 / 255) > 1e-9 or processor.get("rescale_offset"):
        offset = " with an offset" if processor.get("rescale_offset") else ""
        raise InputFileError(f"{path}: pixels rescaled by {rescale}{offset}; compressor feeds pixel values / 255")
    mean, std = processor.get("image_mean"), processor.get("image_std")
    twice = _kind(processor).startswith("EfficientNet") and processor.get("include_top", True)
    if _kind(processor).startswith(_NEVER_NORMALISES) or (not processor.get("do_normalize", True) and not twice):
        return (0.0,) * channels, (1.0,) * channels
    if not (isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std) == channels):
        raise InputFileError(
            f"{path}: image_mean and image_std must be {channels} numbers each (the model reads {channels}-channel "
            "images: num_channels in its config.json)"
        )
    mean, std = tuple(map(float, mean)), tuple(map(float, std))
    if not processor.get("do_normalize", True):
        return (0.0,) * channels, std
    return mean, tuple(value * value for value in std) if twice else std


class ProcessorInput(NamedTuple):
    """What an image classifier is fed: the input spec, and whether the processor hands it BGR."""

    spec: InputSpec
    bgr: bool  # MobileViT's processor flips the channels last: the flip is done inside the model


def image_processor_input(directory: Path, channels: int = 3) -> ProcessorInput:
    """The input spec (channels x height x width, framing, mean, std) and channel order `directory`'s processor
    records, for a model reading `channels` (its config's num_channels: 3, or 1 for grayscale)."""
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
    if not processor.get("do_resize", True):
        raise InputFileError(f"{path}: do_resize is false (images go in at their own size); compressor needs one size")
    other = [key for key in _OTHER_STEPS if processor.get(key)] or [
        k for k in _FRAMED_OTHERWISE if _kind(processor).startswith(k)
    ]
    if other:
        raise InputFileError(
            f"{path}: this image processor frames images in ways compressor does not reproduce ({', '.join(other)}); "
            "it follows processors that resize, centre-crop and normalise"
        )
    if _resample_code(processor) not in _RESAMPLE:
        raise InputFileError(
            f"{path}: unknown resample filter {processor['resample']!r} (PIL's codes: "
            f"{', '.join(f'{code} {name}' for code, name in _RESAMPLE.items())})"
        )
    framing = processor_framing(processor)
    if framing is None:
        raise InputFileError(f"{path}: no fixed input size recorded (size as height/width or shortest_edge)")
    shape = InputSpec.image(framing.crop, channels, str(directory)).shape
    mean, std = _normalisation(processor, path, channels)
    framed = {"resize": framing.resize, "interpolation": framing.interpolation, "crop_rounding": "down"}
    spec = InputSpec(shape=shape, mean=mean, std=std, **framed)
    return ProcessorInput(spec, bool(processor.get("do_flip_channel_order")))
