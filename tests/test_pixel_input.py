"""`compress export --raw-pixels`: the normalisation moves into the model, the device feeds pixels 0-255."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from compressor import commands
from compressor.core.errors import OptionError
from compressor.data import load_dataset
from compressor.exporters.configs import Onnx
from compressor.exporters.preprocessing import preprocessing
from compressor.models.loading import load_model
from compressor.models.pixel_input import with_pixel_input
from compressor.tasks.classification import normalize_images


def test_the_model_on_raw_pixels_answers_as_before_on_normalised_ones() -> None:
    handle = load_model("tiny_cnn", load_dataset("shapes"), weights="random")
    raw = with_pixel_input(handle)
    pixels = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    fed = normalize_images(pixels, raw.input_spec)  # what every runner feeds it: the pixels, as floats
    torch.testing.assert_close(fed, pixels.float(), atol=1e-4, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(raw.module(fed), handle.module.eval()(normalize_images(pixels, handle.input_spec)))
    prep = preprocessing(raw)  # the Jetson manifest: no normalisation left for the board
    assert (prep.scale, prep.mean, prep.std) == (1.0, [0.0] * 3, [1.0] * 3)


def test_an_exported_raw_pixel_model_reloads_taking_pixels(trained_tiny: Path, tmp_path: Path) -> None:
    target = tmp_path / "raw.onnx"
    _, parity = commands.export(str(trained_tiny), target, Onnx(raw_pixels=True), data="shapes")
    assert parity.within_tolerance
    pixels = np.random.default_rng(0).integers(0, 256, (2, 3, 64, 64)).astype(np.float32)
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {session.get_inputs()[0].name: pixels})
    reference = load_model(str(trained_tiny), load_dataset("shapes"))
    with torch.no_grad():
        expected = reference.module.eval()(normalize_images(torch.from_numpy(pixels / 255), reference.input_spec))
    np.testing.assert_allclose(logits, expected.numpy(), atol=1e-4)
    onnx_handle = load_model(str(target), load_dataset("shapes"))  # its metadata says: feed pixels as they are
    assert onnx_handle.input_spec.mean == (0.0, 0.0, 0.0) and onnx_handle.input_spec.std[0] == pytest.approx(1 / 255)


@pytest.mark.parametrize(
    ("model", "data", "why"),
    [
        ("ssdlite320_mobilenet_v3_large", "shapes-det", "detectors normalise inside already"),
        ("text_transformer", "topics", "takes no images"),
    ],
)
def test_raw_pixels_are_for_image_classifiers(model: str, data: str, why: str) -> None:
    handle = load_model(model, load_dataset(data), weights="random")
    with pytest.raises(OptionError, match=f"--raw-pixels .*; .*{why}"):
        with_pixel_input(handle)
