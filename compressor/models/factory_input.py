"""How a user's model (`file.py:factory`) is fed: its own record of it where it has one, timm's
`pretrained_cfg`, else ImageNet's normalisation.

Pretrained weights expect their own normalisation, filter and crop; fed ImageNet's, the model scores
lower and int8 calibration sees the wrong values. timm records them as `pretrained_cfg` (older timm:
`default_cfg`; any model may set the same dict), read here as timm's `resolve_data_config` reads them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from torch import nn

from compressor.core.errors import ModelMismatchError
from compressor.core.handle import InputSpec

FILTERS = ("bilinear", "bicubic", "nearest")  # timm's eval filters, also torchvision InterpolationMode values
CROP_MODES = ("center", "squash")  # timm's `border` crop (letterbox) is not reproduced


def input_config(model: nn.Module) -> Mapping[str, Any] | None:
    """The model's timm-style record of how its weights want to be fed, if it carries one."""
    config = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None)
    return config if isinstance(config, Mapping) else None


def configured_spec(model: nn.Module, spec: InputSpec, name: str) -> InputSpec:
    """`spec` (the size and channels chosen for the model) with the normalisation and framing its record
    names; unchanged for a model without one."""
    config = input_config(model)
    if config is None:
        return spec
    channels = spec.shape[0]
    mean = _per_channel(config.get("mean"), spec.mean, channels, name, "mean")
    std = _per_channel(config.get("std"), spec.std, channels, name, "std")
    interpolation = str(config.get("interpolation") or spec.interpolation)
    if interpolation not in FILTERS:
        raise ModelMismatchError(f"{name}: pretrained_cfg interpolation {interpolation!r} is not one of {FILTERS}")
    return InputSpec(
        shape=spec.shape,
        mean=mean,
        std=std,
        resize=_resize(config, spec.image_size, name),
        interpolation=interpolation,
    )


def _per_channel(values: Any, default: tuple[float, ...], channels: int, name: str, key: str) -> tuple[float, ...]:
    """One value per input channel: a grey model given RGB statistics takes their mean, as ours do."""
    if values is None:
        return default
    values = tuple(float(v) for v in values)
    if len(values) == channels:
        return values
    if channels == 1 and len(values) == 3:
        return (round(sum(values) / 3, 4),)
    raise ModelMismatchError(f"{name}: pretrained_cfg {key} has {len(values)} values for {channels} input channels")


def _resize(config: Mapping[str, Any], crop: tuple[int, int], name: str) -> tuple[int, ...] | None:
    """The resize before the centre crop, as timm's eval transform makes it: each side over `crop_pct`,
    rounded down; the short side for a square crop (`center` mode), both sides exactly for `squash`."""
    crop_pct = config.get("crop_pct")
    mode = config.get("crop_mode") or "center"
    if mode not in CROP_MODES:
        raise ModelMismatchError(f"{name}: pretrained_cfg crop_mode {mode!r} is not reproduced (only {CROP_MODES})")
    if crop_pct is None:
        return None
    scaled = tuple(math.floor(side / float(crop_pct)) for side in crop)
    if mode == "center" and scaled[0] == scaled[1]:
        return (scaled[0],)
    return scaled
