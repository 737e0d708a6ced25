"""vit_tiny: torchvision's VisionTransformer in a 64x64 configuration, exported with parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from compressor import commands
from compressor.core.errors import ModelMismatchError
from compressor.data import load_dataset
from compressor.models.loading import load_model


def test_vit_tiny_exports_with_parity_at_any_batch_size(tmp_path: Path) -> None:
    out = tmp_path / "vit.onnx"
    handle, parity = commands.export("vit_tiny", out, weights="random")
    assert parity.max_abs_diff <= 1e-4 and parity.agreement == 1.0
    assert handle.input_spec.shape == (3, 64, 64)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    reference = load_model("vit_tiny", load_dataset("shapes"), weights="random").module.eval()
    assert sum(p.numel() for p in reference.parameters()) < 3_000_000  # tiny: 4 layers of width 192
    for batch in (1, 5):
        x = torch.randn(batch, 3, 64, 64)
        (logits,) = session.run(None, {"input": x.numpy()})
        with torch.no_grad():
            np.testing.assert_allclose(logits, reference(x).numpy(), atol=1e-4)


def test_vit_tiny_follows_the_image_size_and_refuses_bad_ones() -> None:
    shapes = load_dataset("shapes")
    handle = load_model("vit_tiny", shapes, weights="random", image_size=(32, 32))
    with torch.no_grad():
        assert handle.module.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ModelMismatchError, match="multiple of 8"):
        load_model("vit_tiny", shapes, weights="random", image_size=(60, 60))


def test_vit_tiny_trains_with_its_own_recipe_unless_told_otherwise() -> None:
    recipe = commands.train_config("vit_tiny")
    assert recipe.lr == 3e-4 and recipe.max_grad_norm == 1.0
    assert commands.train_config("vit_tiny", lr=1e-3, seed=None).lr == 1e-3
    assert (
        commands.train_config("mobilenet_v2").lr == 2e-3 and commands.train_config("mobilenet_v2").max_grad_norm is None
    )
