"""A classifier that takes pixel values 0-255 and normalises them inside, for `export --raw-pixels`.

On a device the normalisation is the step most often got wrong: DeepStream's nvinfer, for one, takes
one scale factor and per-channel offsets, so ImageNet's per-channel std cannot be given to it exactly.
With the normalisation in the graph (one multiply and one add per channel), the board only resizes
and crops.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from compressor.core.errors import OptionError
from compressor.core.handle import InputSpec, ModelHandle
from compressor.tasks.classification import renormalisation

PIXEL_STD = 1 / 255  # what the data pipeline divides by, so the model sees 0-255 again


class PixelNormalisation(nn.Module):
    """Pixels 0-255 in, `(pixels / 255 - mean) / std` out: a multiply and an add per channel."""

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", scale.unsqueeze(0))
        self.register_buffer("shift", shift.unsqueeze(0))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels * self.scale + self.shift


def takes_raw_pixels(spec: InputSpec) -> bool:
    """Whether the spec feeds pixel values 0-255 as they are (a model `with_pixel_input` made)."""
    channels = spec.shape[0] if spec.shape else 0
    return spec.mean == (0.0,) * channels and spec.std == (PIXEL_STD,) * channels


def with_pixel_input(handle: ModelHandle) -> ModelHandle:
    """The classifier with its normalisation moved inside: its spec feeds pixel values 0-255 unchanged."""
    if handle.task != "classification" or handle.module is None:
        why = "detectors normalise inside already" if handle.task == "detection" else f"{handle.name} takes no images"
        raise OptionError(f"--raw-pixels moves an image classifier's normalisation into the model; {why}")
    channels = handle.input_spec.shape[0]
    raw = dataclasses.replace(handle.input_spec, mean=(0.0,) * channels, std=(PIXEL_STD,) * channels)
    affine = renormalisation(raw, handle.input_spec)
    if affine is None:  # it takes raw pixels already
        return handle
    module = nn.Sequential(PixelNormalisation(*affine), handle.module).eval()
    return dataclasses.replace(handle, module=module, input_spec=raw)
