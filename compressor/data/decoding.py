"""Image files to uint8 RGB pixels, whatever their bit depth.

PIL's convert("RGB") clips 16-bit grey images (medical and industrial cameras, depth maps) at 255, so
nearly every pixel of one reads white and a model trains on nothing. Here they are scaled to 8 bits
instead (value / 257: 65535 -> 255), as an 8-bit export of the same frame would be.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF

from compressor.core.errors import DataError, brief

SIXTEEN_BIT_TO_EIGHT = 257  # 65535 / 255


def read_rgb(path: str | Path) -> torch.Tensor:
    """The image file at `path` as (3, H, W) uint8 RGB; one line naming the file if it cannot be."""
    try:
        with Image.open(path) as image:
            return rgb_pixels(image, path)
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"cannot read image {path}: {brief(error)}") from error


def rgb_pixels(image: Image.Image, path: str | Path) -> torch.Tensor:
    """`image` as (3, H, W) uint8 RGB: 16-bit grey scaled to 8 bits, other modes as PIL converts them."""
    if image.mode == "F":
        raise DataError(f"{path}: floating-point pixels have no fixed range to read; save it as 8- or 16-bit")
    if image.mode == "I" or image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            message = f"{path}: 32-bit pixels (up to {values.max()}) have no fixed range; save it as 8- or 16-bit"
            raise DataError(message)
        grey = torch.from_numpy(np.rint(values / SIXTEEN_BIT_TO_EIGHT).astype(np.uint8))
        return grey.expand(3, -1, -1).contiguous()
    return TF.pil_to_tensor(image.convert("RGB"))
