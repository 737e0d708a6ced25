"""Images as users have them: height and width given apart (`--image-size 48,192`), the size every image of
an ImageFolder shares taken as the input of a model that takes any size, and top-5 only where it means
something."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from conftest import write_image_folder
from PIL import Image

from compressor.cli import app
from compressor.core.errors import OptionError
from compressor.core.handle import FITS, IMAGENET_MEAN, IMAGENET_STD
from compressor.core.image_size import parse_image_size

TEXT_LINE = (48, 192)  # an OCR line's height and width


@pytest.fixture(scope="module")
def text_lines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ImageFolder whose images are all 48 x 192."""
    root = tmp_path_factory.mktemp("lines")
    write_image_folder(root / "train", per_class=200, seed=1, image_size=TEXT_LINE)
    write_image_folder(root / "val", per_class=50, seed=2, image_size=TEXT_LINE)
    return root


@pytest.fixture(scope="module")
def line_model(text_lines: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from typer.testing import CliRunner

    checkpoint = tmp_path_factory.mktemp("line-model") / "tiny.pt"
    args = ["train", "tiny_cnn", "--data", str(text_lines), "--image-size", "48,192", "--epochs", "10"]
    result = CliRunner().invoke(app, [*args, "-o", str(checkpoint)])
    assert result.exit_code == 0, result.output
    return checkpoint


@pytest.mark.parametrize(
    ("given", "size"),
    [("224", (224, 224)), ("48,192", (48, 192)), ("48x192", (48, 192)), (64, (64, 64)), ([3, 5], (3, 5))],
)
def test_an_image_size_is_a_side_or_height_and_width(given: object, size: tuple[int, int]) -> None:
    assert parse_image_size(given) == size


@pytest.mark.parametrize("given", ["48,", "a,b", "1,2,3", "0,5"])
def test_an_image_size_that_is_neither_is_refused_in_words(given: str) -> None:
    with pytest.raises(OptionError, match="--image-size"):
        parse_image_size(given)


def test_every_verb_runs_at_48_by_192(line_model: Path, text_lines: Path, cli, tmp_path: Path) -> None:  # noqa: ANN001
    """`compress train --image-size 48,192`, then bench, quantize, prune and a Jetson bundle: all at 48 x 192."""
    quick = ["--data", str(text_lines), "--batch-sizes", "1", "--max-samples", "32"]
    bench = cli.invoke(app, ["bench", str(line_model), *quick, "--json", str(tmp_path / "b.json")])
    assert bench.exit_code == 0, bench.output
    benched = json.loads((tmp_path / "b.json").read_text())
    assert benched["input_shape"] == [3, 48, 192]
    top1 = {row["backend"]: row["metrics"]["top1"] for row in benched["results"]}
    assert set(top1) == {"torch", "onnxruntime"} and top1["torch"] == top1["onnxruntime"]  # one model, two runtimes
    quantize = ["quantize", str(line_model), *quick, "--precision", "int8", "--no-tune-speed", "--calib-samples", "16"]
    assert cli.invoke(app, [*quantize, "-o", str(tmp_path / "q")]).exit_code == 0
    int8 = onnx.load(str(tmp_path / "q" / "model.int8.onnx"))
    assert [d.dim_value for d in int8.graph.input[0].type.tensor_type.shape.dim][1:] == [3, 48, 192]
    assert json.loads((tmp_path / "q" / "report.json").read_text())["input_shape"] == [3, 48, 192]
    prune = cli.invoke(app, ["prune", str(line_model), *quick, "--sparsity", "0.5", "-o", str(tmp_path / "p")])
    assert prune.exit_code == 0, prune.output
    assert json.loads((tmp_path / "p" / "report.json").read_text())["input_shape"] == [3, 48, 192]
    jetson = ["export", str(line_model), "--data", str(text_lines), "--format", "jetson", "--precision", "fp16"]
    result = cli.invoke(app, [*jetson, "--max-samples", "16", "-o", str(tmp_path / "bundle")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    assert manifest["inputs"][0]["shape"] == [1, 3, 48, 192]


def test_a_zoo_model_takes_the_size_every_image_of_the_folder_has(text_lines: Path, cli, tmp_path: Path) -> None:  # noqa: ANN001
    report = tmp_path / "r.json"
    args = ["bench", "tiny_cnn", "--weights", "random", "--data", str(text_lines), "--batch-sizes", "1"]
    result = cli.invoke(app, [*args, "--max-samples", "8", "--backend", "torch", "--json", str(report)])
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["input_shape"] == [3, 48, 192]
    assert f"input 48x192: the size every image in {text_lines} has" in result.stderr
    assert "top5" not in json.loads(report.read_text())["results"][0]["metrics"]  # three classes: no top-5


def _hand_fed(onnx_file: Path, root: Path, square: int | None = None) -> tuple[float, list[int]]:
    """Top-1 and predictions of the file run by hand on the val images, normalised as ImageNet's (what it
    was trained on): as they are, or (`square`) scaled and centre-cropped to a square as a 224 default would."""
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    mean, std = np.array(IMAGENET_MEAN).reshape(3, 1, 1), np.array(IMAGENET_STD).reshape(3, 1, 1)
    predictions, labels = [], []
    for label, folder in enumerate(sorted(path.name for path in (root / "val").iterdir())):
        for path in sorted((root / "val" / folder).iterdir()):
            image = Image.open(path).convert("RGB")
            if square is not None:
                scale = square / min(image.size)
                image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
                left, top = (image.width - square) // 2, (image.height - square) // 2
                image = image.crop((left, top, left + square, top + square))
            pixels = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
            batch = ((pixels - mean) / std)[None].astype(np.float32)
            predictions.append(int(session.run(None, {name: batch})[0].argmax()))
            labels.append(label)
    return float(np.mean(np.array(predictions) == np.array(labels))), predictions


def test_a_dynamic_size_onnx_is_benched_at_its_data_s_size(
    line_model: Path,
    text_lines: Path,
    cli,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    """A classifier from elsewhere (no compressor metadata) with dynamic height and width, benched on the
    folder it was trained on without --image-size: it scores what it scores fed by hand, and so does its int8."""
    from compressor.data import load_dataset
    from compressor.models.loading import load_model

    model = load_model(str(line_model), load_dataset(str(text_lines))).module
    foreign = tmp_path / "lines.onnx"
    axes = {"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n"}}
    torch.onnx.export(
        model.eval(), (torch.zeros(1, 3, 48, 192),), str(foreign), dynamo=False, input_names=["x"],
        output_names=["y"], dynamic_axes=axes,
    )  # fmt: skip
    by_hand, predictions = _hand_fed(foreign, text_lines)
    squared = _hand_fed(foreign, text_lines, square=224)[1]
    assert sum(a != b for a, b in zip(predictions, squared, strict=True)) >= 10  # the framing decides: checkable
    out = tmp_path / "q"
    args = ["quantize", str(foreign), "--data", str(text_lines), "--precision", "int8", "--no-tune-speed"]
    result = cli.invoke(app, [*args, "--batch-sizes", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    top1 = {row["variant"]: row["metrics"]["top1"] for row in report["results"]}
    assert report["input_shape"] == [3, 48, 192] and "fed 48x192 images" in " ".join(report["notes"])
    assert abs(top1["baseline"] - by_hand) <= 0.005
    assert abs(top1["int8"] - by_hand) <= 0.01


def test_images_of_several_sizes_ask_a_dynamic_size_onnx_for_its_size(line_model: Path, cli, tmp_path: Path) -> None:  # noqa: ANN001
    mixed = tmp_path / "mixed"
    write_image_folder(mixed / "train", per_class=4, seed=1, image_size=(48, 192))
    write_image_folder(mixed / "val", per_class=4, seed=2, image_size=(64, 64))
    foreign = tmp_path / "lines.onnx"
    torch.onnx.export(
        torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval(),
        (torch.zeros(1, 3, 48, 192),), str(foreign), dynamo=False, input_names=["x"],
        dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}},
    )  # fmt: skip
    result = cli.invoke(app, ["bench", str(foreign), "--data", str(mixed)])
    assert result.exit_code == 2
    assert "have several sizes; pass --image-size H,W" in result.stderr and "Traceback" not in result.output


def test_each_fit_frames_an_image_as_it_says(tmp_path: Path) -> None:
    from torchvision.transforms import v2

    from compressor.core.handle import InputSpec
    from compressor.data.imagefolder import ImageFileDataset, letterbox

    wide = torch.full((3, 50, 200), 200, dtype=torch.uint8)  # 1:4, into a square input
    boxed = letterbox(wide, (64, 64), 114, v2.InterpolationMode.BILINEAR)
    assert boxed.shape == (3, 64, 64) and boxed[0, 32, 32] == 200  # the image: 16 rows high, centred
    assert boxed[0, 0, 32] == boxed[0, 63, 32] == 114 and boxed[0, 23, 32] == 114 and boxed[0, 24, 32] == 200
    spec = InputSpec.image((48, 192))
    assert [spec.fit, spec.fitted("squash").fit, spec.fitted("letterbox").fit] == ["crop", "squash", "letterbox"]
    assert spec.fitted("squash").resize_before_crop == (48, 192) and spec.fitted("letterbox").pad == 114
    assert InputSpec.from_dict(spec.fitted("letterbox").to_dict()) == spec.fitted("letterbox")
    recorded_before = {key: value for key, value in spec.to_dict().items() if key not in ("pad", "fit")}
    assert InputSpec.from_dict(recorded_before).fit == "crop"  # checkpoints written before: as they were fed
    Image.fromarray(np.full((50, 200, 3), 200, dtype=np.uint8)).save(tmp_path / "wide.png")
    square = InputSpec.image((64, 64))
    fed = {fit: ImageFileDataset([(str(tmp_path / "wide.png"), 0)], square.fitted(fit))[0][0] for fit in FITS}
    assert fed["letterbox"][0, 0, 32] == 114 and fed["crop"][0, 0, 32] == fed["squash"][0, 0, 32] == 200


def test_a_letterboxed_model_records_its_fit_in_checkpoint_and_bundle(text_lines: Path, cli, tmp_path: Path) -> None:  # noqa: ANN001
    checkpoint = tmp_path / "boxed.pt"
    args = ["train", "tiny_cnn", "--data", str(text_lines), "--image-size", "64", "--fit", "letterbox", "--epochs", "1"]
    result = cli.invoke(app, [*args, "-o", str(checkpoint)])
    assert result.exit_code == 0, result.output
    from compressor.data import load_dataset
    from compressor.models.loading import load_model

    assert load_model(str(checkpoint), load_dataset(str(text_lines))).input_spec.fit == "letterbox"
    bundle = tmp_path / "bundle"
    jetson = ["export", str(checkpoint), "--data", str(text_lines), "--format", "jetson", "--precision", "fp16"]
    assert cli.invoke(app, [*jetson, "--max-samples", "8", "-o", str(bundle)]).exit_code == 0
    framing = json.loads((bundle / "manifest.json").read_text())["preprocessing"]
    assert (framing["fit"], framing["pad"]) == ("letterbox", 114)
    assert "letterboxed into 64x64" in (bundle / "README.md").read_text()
    refused = cli.invoke(app, ["bench", str(checkpoint), "--data", str(text_lines), "--fit", "squash"])
    assert refused.exit_code == 2 and "records how its images are framed (letterbox)" in refused.stderr
