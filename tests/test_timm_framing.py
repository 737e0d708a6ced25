"""A `file.py:factory` model from timm is framed as timm's own eval transform frames it (skipped without
timm, which the dev extra installs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from compressor.data import load_dataset
from compressor.data.imagefolder import ImageFileDataset
from compressor.models.loading import load_model
from compressor.tasks.classification import normalize_images

timm = pytest.importorskip("timm")

FACTORY = """
import timm

def {name}(num_classes):
    return timm.create_model("{name}", pretrained=False, num_classes=num_classes)
"""


@pytest.mark.parametrize("name", ["resnet18", "vit_tiny_patch16_224"])
def test_a_timm_model_is_framed_as_timm_s_eval_transform(tmp_path: Path, name: str) -> None:
    """A 300x200 photo-like image: ours (resize, centre crop, normalisation) against timm's transform."""
    factory = tmp_path / "models.py"
    factory.write_text(FACTORY.format(name=name))
    handle = load_model(f"{factory}:{name}", load_dataset("shapes"), weights="random", image_size=(224, 224))
    rng = np.random.default_rng(0)
    smooth = np.cumsum(np.cumsum(rng.integers(-6, 7, size=(200, 300, 3)), axis=0), axis=1)
    image = tmp_path / "image.png"
    Image.fromarray(np.clip(128 + smooth // 8, 0, 255).astype(np.uint8)).save(image)

    pixels, _ = ImageFileDataset([(str(image), 0)], handle.input_spec)[0]
    ours = normalize_images(pixels.unsqueeze(0), handle.input_spec)[0]
    config = timm.data.resolve_data_config({}, model=timm.create_model(name, pretrained=False))
    theirs = timm.data.create_transform(**config)(Image.open(image).convert("RGB"))

    assert ours.shape == theirs.shape
    assert torch.mean(torch.abs(ours - theirs)).item() < 0.02
