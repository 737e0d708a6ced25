"""Grayscale image models: a user's model whose first convolution reads one channel is fed the luma of
every (RGB-decoded) image, exported with a GRAY preprocessing record, and may learn from an RGB teacher."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from typer.testing import CliRunner

from compressor.cli import app
from compressor.core.errors import DataError, ModelMismatchError
from compressor.core.handle import GREY_MEAN, GREY_STD, InputSpec
from compressor.data import load_dataset
from compressor.data.decoding import read_rgb
from compressor.exporters.preprocessing import preprocessing
from compressor.methods.distillation import check_student_fits
from compressor.models.loading import load_model
from compressor.models.onnx_file import read_onnx_handle
from compressor.models.pixel_input import takes_raw_pixels, with_pixel_input
from compressor.tasks.classification import normalize_images, renormalisation, to_grayscale
from compressor.training.distillation import DistillationStudent, Teacher

GREY_MODEL = """
from torch import nn


def factory(num_classes=10):
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes)
    )
"""


@pytest.fixture
def grey_factory(tmp_path: Path) -> str:
    path = tmp_path / "grey.py"
    path.write_text(GREY_MODEL)
    return f"{path}:factory"


def test_a_grey_image_decoded_as_rgb_reaches_the_model_unchanged() -> None:
    grey = torch.randint(0, 256, (2, 1, 5, 5), dtype=torch.uint8)
    fed = normalize_images(grey.expand(-1, 3, -1, -1).clone(), InputSpec.image((5, 5), 1))
    assert fed.shape == (2, 1, 5, 5)
    torch.testing.assert_close(fed, (grey.float() / 255 - GREY_MEAN[0]) / GREY_STD[0])


def test_colour_pixels_become_the_luma_pil_gives() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    pil = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float32)
    ours = to_grayscale(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())[0, 0].numpy()
    assert np.abs(ours - pil).max() < 1.0  # PIL rounds to whole values; other weights miss by tens


def test_sixteen_bit_grey_files_are_scaled_to_eight_bits_not_clipped(tmp_path: Path) -> None:
    """PIL's convert("RGB") reads every 16-bit value above 255 as 255: a camera frame turns white."""
    values = np.array([[0, 257, 32896], [40000, 65000, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "frame.png")
    pixels = read_rgb(tmp_path / "frame.png")
    assert pixels.dtype == torch.uint8 and pixels.shape == (3, 2, 3)
    assert pixels[0].tolist() == [[0, 1, 128], [156, 253, 255]] and bool((pixels[1] == pixels[2]).all())
    Image.fromarray(values.astype(np.float32)).save(tmp_path / "depth.tiff")
    with pytest.raises(DataError, match="floating-point pixels"):
        read_rgb(tmp_path / "depth.tiff")


def test_only_rgb_and_grey_images_are_fed() -> None:
    with pytest.raises(ModelMismatchError, match="reads 4-channel images"):
        InputSpec.image((8, 8), 4)


def test_a_factory_reading_one_channel_is_fed_grey_and_exports_so(grey_factory: str) -> None:
    handle = load_model(grey_factory, load_dataset("shapes"), weights="random", image_size=(32, 32))
    spec = handle.input_spec
    assert spec.shape == (1, 32, 32) and spec.grayscale and spec.mean == GREY_MEAN
    assert preprocessing(handle).color == "GRAY" and preprocessing(handle).mean == list(GREY_MEAN)
    raw = with_pixel_input(handle)  # export --raw-pixels: pixels 0-255 in, normalised inside
    assert takes_raw_pixels(raw.input_spec) and preprocessing(raw).mean == [0.0] and preprocessing(raw).std == [1.0]
    pixels = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        expected = handle.module(normalize_images(pixels, spec))
        torch.testing.assert_close(raw.module(normalize_images(pixels, raw.input_spec)), expected)


def test_a_foreign_one_channel_onnx_reads_grey(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).eval()
    path = tmp_path / "mono.onnx"
    example = (torch.zeros(1, 1, 20, 24),)
    torch.onnx.export(model, example, str(path), dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "n"}})
    spec = read_onnx_handle(path).input_spec
    assert spec.shape == (1, 20, 24) and spec.grayscale and spec.std == GREY_STD


def test_an_rgb_teacher_sees_the_grey_students_image_in_its_three_channels(grey_factory: str) -> None:
    shapes = load_dataset("shapes")
    student = load_model(grey_factory, shapes, weights="random")
    teacher = load_model("tiny_cnn", shapes, weights="random")
    check_student_fits(student, grey_factory, teacher)  # a grey student may learn from a colour teacher
    with pytest.raises(ModelMismatchError, match="a grayscale teacher needs a grayscale student"):
        check_student_fits(teacher, "tiny_cnn", student)
    seen: list[torch.Tensor] = []
    teacher.module.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    renormalise = renormalisation(student.input_spec, teacher.input_spec)
    grey = torch.randint(0, 256, (2, 1, 64, 64), dtype=torch.uint8)
    batch = [normalize_images(grey, student.input_spec)]
    DistillationStudent(student.module, Teacher(teacher.module.eval(), renormalise=renormalise), batch)
    torch.testing.assert_close(seen[0], normalize_images(grey.expand(-1, 3, -1, -1), teacher.input_spec))


def test_a_grey_jetson_bundle_asks_the_device_for_luma(grey_factory: str, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    args = ["export", grey_factory, "--weights", "random", "--format", "jetson", "--precision", "fp16"]
    result = CliRunner().invoke(app, [*args, "--data", "shapes", "--max-samples", "64", "-o", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"][0]["shape"] == [1, 1, 64, 64] and manifest["preprocessing"]["color"] == "GRAY"
    assert "0.299 R + 0.587 G + 0.114 B" in (out / "README.md").read_text()
