"""How models from elsewhere are fed: a factory's timm-style `pretrained_cfg`, an ONNX file's image metadata,
and the warning where neither says (a wrong normalisation costs accuracy without any error)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from compressor.cli import app
from compressor.core.errors import InputFileError, ModelMismatchError
from compressor.core.handle import IMAGENET_MEAN
from compressor.data import load_dataset
from compressor.models.foreign_onnx import ASSUMED
from compressor.models.loading import load_model
from compressor.models.onnx_file import read_onnx_handle

FACTORIES = """
from torch import nn


def net(channels, num_classes, config):
    model = nn.Sequential(nn.Conv2d(channels, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes))
    model.pretrained_cfg = config
    return model


def vit_like(num_classes=10):  # timm's record for vit_small_patch16_224
    config = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "interpolation": "bicubic", "crop_pct": 0.9}
    return net(3, num_classes, {**config, "crop_mode": "center", "input_size": (3, 224, 224)})


def squashed(num_classes=10):
    return net(3, num_classes, {"crop_pct": 0.75, "crop_mode": "squash"})


def grey(num_classes=10):
    return net(1, num_classes, {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)})


def letterboxed(num_classes=10):
    return net(3, num_classes, {"crop_pct": 1.0, "crop_mode": "border"})


class Strict(nn.Module):
    def forward(self, x):
        assert x.shape[-1] == 224, f"input width {x.shape[-1]} is not 224"
        return x.mean((2, 3))


def strict(num_classes=10):
    return Strict()
"""


@pytest.fixture(scope="module")
def factories(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("factories") / "models.py"
    path.write_text(FACTORIES)
    return path


def test_a_factory_model_is_fed_as_its_pretrained_cfg_says(factories: Path) -> None:
    """As timm's eval transform: 64 / 0.9 -> a 71 short side before the 64 crop, bicubic, mean and std 0.5."""
    shapes = load_dataset("shapes")
    spec = load_model(f"{factories}:vit_like", shapes, weights="random").input_spec
    assert (spec.mean, spec.std, spec.interpolation) == ((0.5,) * 3, (0.5,) * 3, "bicubic")
    assert spec.image_size == (64, 64) and spec.resize == (71,)  # the data's size: the record's 224 is a default
    squashed = load_model(f"{factories}:squashed", shapes, weights="random", image_size=(48, 60)).input_spec
    assert squashed.resize == (64, 80) and squashed.mean == IMAGENET_MEAN
    assert load_model(f"{factories}:grey", shapes, weights="random").input_spec.mean == (0.449,)
    with pytest.raises(ModelMismatchError, match="crop_mode 'border' is not reproduced"):
        load_model(f"{factories}:letterboxed", shapes, weights="random")


def test_a_model_asserting_its_input_size_is_refused_in_one_line(factories: Path) -> None:
    with pytest.raises(ModelMismatchError, match="input width 64 is not 224"):
        load_model(f"{factories}:strict", load_dataset("shapes"), weights="random")


def _zero_one_onnx(path: Path, props: dict[str, str], classes: int = 10) -> Path:
    """A classifier trained on pixels 0-1 (no normalisation), as many exported from elsewhere are."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, classes)).eval()
    example = (torch.zeros(1, 3, 64, 64),)
    torch.onnx.export(model, example, str(path), dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "n"}})
    described = onnx.load(str(path))
    onnx.helper.set_model_props(described, props)
    onnx.save(described, str(path))
    return path


def test_an_onnx_files_image_metadata_sets_its_normalisation(tmp_path: Path) -> None:
    ranges = {"NominalRange_0_255": (0.0, 1 / 255), "Normalized_0_1": (0.0, 1.0), "Normalized_1_1": (0.5, 0.5)}
    for name, (mean, std) in ranges.items():
        path = _zero_one_onnx(tmp_path / f"{name}.onnx", {"Image.NominalPixelRange": name})
        handle = read_onnx_handle(path)
        assert (handle.input_spec.mean, handle.input_spec.std) == ((mean,) * 3, (std,) * 3)
        assert "assumed" not in handle.metadata
    with pytest.raises(InputFileError, match="'Bgr8' for a 3-channel input"):
        read_onnx_handle(_zero_one_onnx(tmp_path / "bgr.onnx", {"Image.BitmapPixelFormat": "Bgr8"}))
    with pytest.raises(InputFileError, match="NominalRange_16_235"):
        read_onnx_handle(_zero_one_onnx(tmp_path / "video.onnx", {"Image.NominalPixelRange": "NominalRange_16_235"}))


def test_an_assumed_normalisation_is_warned_about_and_noted(tmp_path: Path) -> None:
    path = _zero_one_onnx(tmp_path / "plain.onnx", {})
    out = tmp_path / "report.json"
    args = ["bench", str(path), "--data", "shapes", "--batch-sizes", "1", "--max-samples", "16", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"{path}: {ASSUMED}; its outputs are read as the data's classes in order (circle," in result.stderr
    assert f"input: {ASSUMED}" in json.loads(out.read_text())["notes"]


def test_an_onnx_classifier_of_other_classes_is_refused(tmp_path: Path) -> None:
    """Its outputs are read as the data's classes by index: 1,000 ImageNet outputs on 10 classes scored 0.0."""
    path = _zero_one_onnx(tmp_path / "imagenet.onnx", {}, classes=1000)
    with pytest.raises(ModelMismatchError, match="predicts 1000 classes but shapes has 10"):
        load_model(str(path), load_dataset("shapes"))


def test_a_foreign_file_of_dynamic_size_and_its_own_input_name_is_quantized(tmp_path: Path) -> None:
    """Its height and width take the data's size (shapes: 64) or --image-size; calibration feeds its own
    input name (it fed `input`, the name our exports use, and failed)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    path = tmp_path / "dynamic.onnx"
    axes = {"pixels": {0: "n", 2: "h", 3: "w"}}
    example = (torch.zeros(1, 3, 32, 32),)
    torch.onnx.export(model.eval(), example, str(path), dynamo=False, input_names=["pixels"], dynamic_axes=axes)
    assert load_model(str(path), load_dataset("shapes"), image_size=(40, 40)).input_spec.shape == (3, 40, 40)
    out = tmp_path / "int8"
    args = ["quantize", str(path), "--data", "shapes", "--precision", "int8", "--batch-sizes", "1"]
    result = CliRunner().invoke(app, [*args, "--max-samples", "32", "--calib-samples", "16", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert {row["variant"] for row in report["results"]} == {"baseline", "int8"}
    assert "input: fed 64x64 images (its input size is dynamic; --image-size sets it)" in report["notes"]


def test_a_foreign_file_of_batch_one_at_opset_11_is_quantized(tmp_path: Path) -> None:
    """Many downloaded files: calibration fed batches of 16 to its batch-1 graph (an internal error), and
    int8 written into opset 11 (per-channel DequantizeLinear takes an axis from 13 on) did not load."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    path = tmp_path / "old.onnx"
    torch.onnx.export(model.eval(), (torch.zeros(1, 3, 64, 64),), str(path), dynamo=False, opset_version=11)
    out = tmp_path / "int8"
    args = ["quantize", str(path), "--data", "shapes", "--precision", "int8", "--batch-sizes", "1"]
    # The speed tuner may rightly hand every op of a graph this small back to float; this is about loading.
    args += ["--no-tune-speed", "--max-samples", "32", "--calib-samples", "16", "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    int8 = onnx.load(str(out / "model.int8.onnx"))
    assert any(node.op_type == "DequantizeLinear" for node in int8.graph.node)
    assert next(entry.version for entry in int8.opset_import if entry.domain in ("", "ai.onnx")) >= 13


def test_a_whole_pickled_model_is_its_own_architecture(tmp_path: Path) -> None:
    """`torch.save(model)`, trusted: pruned like a factory's model, saved without pickle, reloaded onto it.
    Before, its weights were kept and its architecture asked for ("a plain state_dict")."""
    from compressor.models.zoo import tiny_cnn

    whole, other = tmp_path / "whole.pt", tmp_path / "yolo_style.pt"
    torch.save(tiny_cnn(10), whole)
    torch.save({"model": tiny_cnn(1000).half(), "epoch": 3}, other)  # a training script's layout, half precision
    cli, out = CliRunner(), tmp_path / "pruned"
    options = ["--data", "shapes", "--batch-sizes", "1", "--max-samples", "32"]
    pruning = ["--structured", "--sparsity", "0.5", "--finetune-epochs", "0", "-o", str(out)]
    result = cli.invoke(app, ["--trust-checkpoint", "prune", str(whole), *options, *pruning])
    assert result.exit_code == 0, result.output
    pruned = out / "model.pruned.pt"
    refused = cli.invoke(app, ["bench", str(pruned), *options])
    assert refused.exit_code == 2
    assert f"compress --trust-checkpoint bench {whole} --weights {pruned}" in refused.stderr
    reloaded = cli.invoke(app, ["--trust-checkpoint", "bench", str(whole), "--weights", str(pruned), *options])
    assert reloaded.exit_code == 0, reloaded.output
    wrong = cli.invoke(app, ["--trust-checkpoint", "bench", str(other), *options])
    assert wrong.exit_code == 2 and "gives outputs of shape (1, 1000) for one image" in wrong.stderr


def test_an_onnx_file_from_elsewhere_becomes_a_jetson_bundle(tmp_path: Path) -> None:
    """Deployment is what such a file is for: it was refused ("export needs a torch model"). Its opset 20
    (torch's exporter default) comes down to 17, which JetPack 5's TensorRT 8.5 parses too."""
    path = _zero_one_onnx(tmp_path / "zero_one.onnx", {"Image.NominalPixelRange": "Normalized_0_1"})
    out = tmp_path / "bundle"
    args = ["export", str(path), "--data", "shapes", "--format", "jetson", "--precision", "int8"]
    result = CliRunner().invoke(app, [*args, "--max-samples", "64", "--calib-samples", "16", "-o", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["opset"] == 17 and manifest["inputs"][0]["name"] == "x"
    assert manifest["preprocessing"]["mean"] == [0.0] * 3 and manifest["preprocessing"]["std"] == [1.0] * 3
    assert any(node.op_type == "QuantizeLinear" for node in onnx.load(str(out / "model.onnx")).graph.node)
    static = tmp_path / "static.onnx"  # exported without dynamic axes: batch 1 only
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10)).eval()
    torch.onnx.export(model, (torch.zeros(1, 3, 64, 64),), str(static), dynamo=False)
    options = ["--data", "shapes", "--format", "jetson", "--precision", "fp16", "--batch-size", "4"]
    refused = CliRunner().invoke(app, ["export", str(static), *options, "-o", str(tmp_path / "b4")])
    assert refused.exit_code == 2 and "takes batches of 1 only; pass --batch-size 1" in refused.stderr
    assert not (tmp_path / "b4").exists()


def test_onnx_files_taking_uint8_pixels_or_half_floats_are_fed_so(tmp_path: Path) -> None:
    """Both gave an internal error ("Unexpected input data type"): the data pipeline feeds float32."""
    from compressor.core.handle import IMAGENET_STD
    from compressor.data import load_dataset as load
    from compressor.models.zoo import tiny_cnn
    from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner, as_fed
    from compressor.tasks.classification import normalize_images

    class Pixels(nn.Module):  # uint8 pixels in, ImageNet normalisation inside
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.inner((pixels.float() / 255 - self.mean) / self.std)

    torch.manual_seed(0)
    inner = tiny_cnn(10).eval()
    files = {"float": (inner, torch.float32), "uint8": (Pixels(inner), torch.uint8), "half": (inner, torch.float16)}
    for name, (model, dtype) in files.items():
        model = copy.deepcopy(model).to(torch.float16) if dtype == torch.float16 else model
        example, axes = (torch.zeros(1, 3, 64, 64, dtype=dtype),), {"x": {0: "n"}}
        torch.onnx.export(
            model, example, str(tmp_path / f"{name}.onnx"), dynamo=False, dynamic_axes=axes, input_names=["x"]
        )
    shapes = load("shapes")
    pixels = torch.stack(
        [shapes.split("val", load_model("tiny_cnn", shapes, weights="random").input_spec)[i][0] for i in range(8)]
    )
    outputs = {}
    for name in files:
        handle = load_model(str(tmp_path / f"{name}.onnx"), shapes)
        runner = OnnxRuntimeRunner(handle.onnx_path)
        outputs[name] = runner.run([normalize_images(pixels, handle.input_spec)])[0].float()
    assert (
        load_model(str(tmp_path / "uint8.onnx"), shapes).metadata.get("assumed") is None
    )  # raw pixels: nothing assumed
    torch.testing.assert_close(outputs["uint8"], outputs["float"], atol=1e-4, rtol=0)
    every = torch.arange(256, dtype=torch.uint8).view(1, 1, 1, 256).expand(1, 3, 1, 256)  # each value exactly
    raw = load_model(str(tmp_path / "uint8.onnx"), shapes).input_spec  # (x / 255) / (1 / 255) is 254.99998 at times
    assert (as_fed(normalize_images(every, raw).numpy(), np.uint8) == every.numpy()).all()
    torch.testing.assert_close(outputs["half"], outputs["float"], atol=2e-2, rtol=0)
