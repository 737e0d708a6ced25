"""What a device must do to a camera frame before it feeds an exported image model.

The Jetson manifest and the record beside a TensorRT engine both carry it, so a deployment frames and
normalises pixels exactly as compressor's own data did when it measured the model's accuracy.
"""

from __future__ import annotations

from pydantic import BaseModel

from compressor.core.handle import ModelHandle
from compressor.models.pixel_input import takes_raw_pixels
from compressor.tasks import get_task

IMAGE_TASKS = ("classification", "detection")  # the tasks whose models take camera frames


class Preprocessing(BaseModel):
    """How a camera frame becomes the input tensor."""

    layout: str = "NCHW"
    color: str = "RGB"  # or GRAY: ITU-R 601-2 luma, 0.299 R + 0.587 G + 0.114 B (PIL's "L", OpenCV's RGB2GRAY)
    scale: float = 1.0 / 255.0  # pixel values 0-255 times scale, then (x - mean) / std per channel
    mean: list[float]
    std: list[float]
    resize: list[int]  # before the crop: [short side] (aspect kept) or [height, width] (exactly)
    center_crop: list[int]  # height, width: the input's
    interpolation: str = "bilinear"  # the resize filter (torchvision's names)
    # Crop offsets on an odd margin: "nearest" (halves to even, torchvision's CenterCrop) or "down"
    crop_rounding: str = "nearest"
    # crop (resize, then the centre), squash (resized to exactly the input) or letterbox (scaled to fit
    # inside the input, aspect kept, centred, the margins filled with `pad`, a 0-255 pixel value)
    fit: str = "crop"
    pad: int | None = None


def preprocessing(handle: ModelHandle) -> Preprocessing:
    """How a camera frame becomes the model's input: framed and normalised as compressor's own data is
    for the model's task (a detector: resized exactly, normalised inside the model; so is a classifier
    exported with --raw-pixels, whose pixels go in as they are)."""
    spec, task = handle.input_spec, get_task(handle.task)
    framing = {
        "color": "GRAY" if spec.grayscale else "RGB",
        "resize": list(task.resize_before_crop(spec)),
        "center_crop": list(spec.image_size),
        "interpolation": spec.interpolation,
        "crop_rounding": spec.crop_rounding,
        "fit": spec.fit if handle.task == "classification" else "squash",
        "pad": spec.pad,
    }
    if takes_raw_pixels(spec):  # export --raw-pixels: normalised inside the model
        channels = spec.shape[0]
        return Preprocessing(scale=1.0, mean=[0.0] * channels, std=[1.0] * channels, **framing)
    mean, std = task.pixel_normalisation(spec)
    return Preprocessing(mean=list(mean), std=list(std), **framing)
