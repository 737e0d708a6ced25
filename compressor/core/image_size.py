"""An image size as users write it: `S` for a square, `H,W` (or `HxW`) for height and width."""

from __future__ import annotations

import re
from typing import Any

from compressor.core.errors import OptionError

ImageSize = tuple[int, int]  # (height, width)


def parse_image_size(value: Any, what: str = "--image-size") -> ImageSize | None:
    """(height, width) from `S`, `H,W`, `HxW`, an int or a [H, W] pair; None stays None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        sides: list[Any] = [value, value]
    elif isinstance(value, (list, tuple)):
        sides = list(value)
    else:
        parts = re.split(r"[,x]", str(value).strip())
        sides = parts * 2 if len(parts) == 1 else parts
    try:
        height, width = (int(side) for side in sides)
    except (TypeError, ValueError):
        raise OptionError(f"{what} takes S (a square side) or H,W, e.g. 224 or 48,192; got {value!r}") from None
    if height < 1 or width < 1:
        raise OptionError(f"{what} sides must be greater than or equal to 1; got {value!r}")
    return height, width


def image_size_text(size: ImageSize) -> str:
    """`48x192`: how reports and messages name a size."""
    return f"{size[0]}x{size[1]}"
