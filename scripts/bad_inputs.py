"""The bad inputs we promise to answer with one clear line: each case builds its broken input, runs the
`compress` command a user would, and records what they see. `tests/test_reliability.py` runs every
case in CI; this script writes the table of docs/reliability.md from the same cases:

    python scripts/bad_inputs.py            # rewrites docs/reliability.md
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from typer.testing import CliRunner

from compressor.cli import app
from compressor.models.zoo import tiny_cnn

DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    command: Callable[[Path], list[str]]  # builds the broken input in a scratch folder, returns the CLI args
    expect: str  # a piece of the message the user must see
    mid_run: bool = False  # found only once work began: progress lines come before the error line


@dataclass
class Outcome:
    exit_code: int
    stderr: str
    traceback: bool

    @property
    def error_line(self) -> str:
        return self.stderr.splitlines()[-1] if self.stderr else ""


def _tiny_checkpoint(folder: Path) -> Path:
    torch.save(tiny_cnn(10).state_dict(), folder / "tiny.pt")
    return folder / "tiny.pt"


def _truncated(folder: Path) -> list[str]:
    path = _tiny_checkpoint(folder)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return ["bench", "tiny_cnn", "--weights", str(path)]


def _garbage(name: str) -> Callable[[Path], list[str]]:
    def command(folder: Path) -> list[str]:
        (folder / name).write_bytes(os.urandom(300))
        path = str(folder / name)
        return ["bench", path] if name.endswith(".onnx") else ["bench", "tiny_cnn", "--weights", path]

    return command


class _RunsCode:
    """A pickle whose loading would run a shell command (creating a marker file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _malicious(folder: Path) -> list[str]:
    with (folder / "evil.pt").open("wb") as handle:
        pickle.dump({"state_dict": _RunsCode(folder / "pwned")}, handle)
    return ["bench", "tiny_cnn", "--weights", str(folder / "evil.pt")]


def _images(folder: Path, classes: list[str], per_class: int, root: str = "images") -> Path:
    for name in classes:
        (folder / root / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(folder / root / name / f"{index}.png")
    return folder / root


def _truncated_image(folder: Path) -> list[str]:
    """train/ and val/ class folders; one val image cut in half, as an interrupted copy leaves it."""
    for split in ("train", "val"):
        _images(folder / "data", ["a", "b"], 4, split)
    whole = (folder / "data" / "val" / "b" / "3.png").read_bytes()
    (folder / "data" / "val" / "b" / "3.png").write_bytes(whole[: len(whole) // 2])
    return ["bench", "tiny_cnn", "--weights", "random", "--data", str(folder / "data")]


def _bad_coco(folder: Path) -> list[str]:
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(folder / "a.png")
    data = {
        "images": [{"id": 1, "file_name": "a.png", "width": 32, "height": 32}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, -3, 4]}],
        "categories": [{"id": 1, "name": "thing"}],
    }
    (folder / "coco.json").write_text(json.dumps(data))
    return ["bench", "ssdlite320_mobilenet_v3_large", "--weights", "random", "--data", str(folder / "coco.json")]


def _text_without_text(folder: Path) -> list[str]:
    (folder / "t.jsonl").write_text('{"txt": "hello", "label": "a"}\n')
    return ["bench", "text_transformer", "--weights", "random", "--data", str(folder / "t.jsonl")]


def _recipe(text: str) -> Callable[[Path], list[str]]:
    def command(folder: Path) -> list[str]:
        (folder / "r.yaml").write_text(text)
        return ["run", str(folder / "r.yaml"), "-o", str(folder / "out")]

    return command


def _factory_file(path: Path, layers: list[str], output: str) -> str:
    """A `file.py:factory` model: the layers built in __init__ (n: the class count), `output` its forward's."""
    built = "".join(f"        self.{layer}\n" for layer in layers)
    path.write_text(
        "import torch\n\n\nclass M(torch.nn.Module):\n    def __init__(self, n):\n        super().__init__()\n"
        f"{built}\n    def forward(self, x):\n        return {output}\n\n\n"
        "def factory(num_classes):\n    return M(num_classes)\n"
    )
    return f"{path}:factory"


def _unexportable(folder: Path) -> list[str]:
    model = _factory_file(
        folder / "eig.py", ["head = torch.nn.Linear(4, n)"], "self.head(torch.linalg.eigvals(x[:, 0, :4, :4]).real)"
    )
    return ["export", model, "-o", str(folder / "eig.onnx")]


def _four_channel_model(folder: Path) -> list[str]:
    layers = ["conv = torch.nn.Conv2d(4, 8, 3)", "head = torch.nn.Linear(8, n)"]
    return ["bench", _factory_file(folder / "rgba.py", layers, "self.head(self.conv(x).mean((2, 3)))")]


def _hard_coded_width(folder: Path) -> list[str]:
    layers = ["conv = torch.nn.Conv2d(3, 32, 3)", "head = torch.nn.Linear(32, n)"]
    model = _factory_file(folder / "fixed.py", layers, "self.head(self.conv(x).view(x.shape[0], 32, -1).mean(-1))")
    options = ["--weights", "random", "--sparsity", ".5", "--batch-sizes", "1", "--max-samples", "16"]
    return ["prune", model, *options, "-o", str(folder / "p")]


def _external_data(folder: Path) -> list[str]:
    weight = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    (folder / "secret.bin").write_bytes(weight.raw_data)
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "64")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("x", "y")]
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", io[:1], io[1:], [weight])
    (folder / "model").mkdir()
    (folder / "model" / "model.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    return ["bench", str(folder / "model" / "model.onnx")]


def _nhwc_onnx(folder: Path) -> list[str]:
    """A Keras classifier as tf2onnx writes it by default: images channels-last."""
    weight = numpy_helper.from_array(np.ones((3, 10), np.float32), "w")
    image = helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["n", 64, 64, 3])
    logits = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 10])
    nodes = [helper.make_node("ReduceMean", ["input_1"], ["m"], axes=[1, 2], keepdims=0)]
    nodes.append(helper.make_node("MatMul", ["m", "w"], ["y"]))
    graph = helper.make_graph(nodes, "g", [image], [logits], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    (folder / "keras.onnx").write_bytes(model.SerializeToString())
    return ["bench", str(folder / "keras.onnx")]


def _torchscript(folder: Path) -> list[str]:
    torch.jit.script(tiny_cnn(10)).save(str(folder / "scripted.pt"))
    return ["bench", str(folder / "scripted.pt")]


def _imagenet_onnx(folder: Path) -> list[str]:
    """A classifier with 1,000 outputs, written elsewhere (no compressor metadata)."""
    weight = numpy_helper.from_array(np.ones((3, 1000), np.float32), "w")
    image = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 8, 8])
    logits = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1000])
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"]), helper.make_node("Flatten", ["p"], ["f"])]
    nodes.append(helper.make_node("MatMul", ["f", "w"], ["y"]))
    graph = helper.make_graph(nodes, "g", [image], [logits], [weight])
    (folder / "imagenet.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    return ["bench", str(folder / "imagenet.onnx")]


_QUANTIZE_RANDOM = ["quantize", "tiny_cnn", "--weights", "random", "--precision", "int8"]


def _outdir_with_results(folder: Path) -> list[str]:
    (folder / "out").mkdir()
    (folder / "out" / "report.json").write_text("{}")
    return [*_QUANTIZE_RANDOM, "-o", str(folder / "out")]


def _half_checkpoint(folder: Path) -> list[str]:
    """What `compress quantize --precision fp16` writes beside its report, given to quantize again."""
    from compressor.core.handle import InputSpec
    from compressor.models.checkpoint import save_checkpoint

    description = {"name": "tiny_cnn", "task": "classification", "input_spec": InputSpec.image((64, 64)).to_dict()}
    description |= {"class_names": [str(i) for i in range(10)], "precision": "fp16"}
    save_checkpoint(folder / "model.fp16.pt", tiny_cnn(10).half().state_dict(), description)
    return ["quantize", str(folder / "model.fp16.pt"), "--precision", "int8", "-o", str(folder / "out")]


def _earlier_export(folder: Path) -> list[str]:
    (folder / "model.onnx").write_text("an earlier export")
    return ["export", "tiny_cnn", "--weights", "random", "-o", str(folder / "model.onnx")]


def _outdir_under_a_file(folder: Path) -> list[str]:
    (folder / "notes.txt").write_text("a file, not a folder")
    return [*_QUANTIZE_RANDOM, "-o", str(folder / "notes.txt" / "out")]


def _hf_processor_that_pads(folder: Path) -> list[str]:
    from tiny_hf_image import build_tiny_image_classifier  # transformers: imported for the case that needs it

    model = build_tiny_image_classifier(folder / "vit", 10)
    config = model / "preprocessor_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "do_thumbnail": True, "do_pad": True}))
    return ["bench", str(model)]


def _other_architecture(folder: Path) -> list[str]:
    return ["bench", "resnet18", "--weights", str(_tiny_checkpoint(folder))]


CASES = [
    Case("missing-file", "a model file that does not exist", lambda f: ["bench", str(f / "missing.pt")], "not found"),
    Case("truncated-pt", "a truncated .pt checkpoint", _truncated, "truncated or corrupt"),
    Case("corrupt-onnx", "random bytes named .onnx", _garbage("model.onnx"), "not a readable ONNX model"),
    Case("corrupt-safetensors", "random bytes named .safetensors", _garbage("w.safetensors"), "safetensors"),
    Case("other-architecture", "tiny_cnn weights for resnet18", _other_architecture, "does not fit"),
    Case("unknown-model", "a misspelt zoo name", lambda f: ["bench", "mobilenet_v9"], "unknown model"),
    Case(
        "unknown-dataset",
        "a misspelt dataset name",
        lambda f: ["bench", "tiny_cnn", "--weights", "random", "--data", "shapez"],
        "unknown dataset",
    ),
    Case(
        "unknown-precision",
        "a precision that does not exist",
        lambda f: ["quantize", "tiny_cnn", "--precision", "int4", "-o", str(f / "out")],
        "--precision",
    ),
    Case(
        "auto-and-precision",
        "--auto together with the precision it would choose",
        lambda f: ["quantize", "tiny_cnn", "--auto", "--precision", "fp16", "-o", str(f / "out")],
        "drop --precision or drop --auto",
    ),
    Case(
        "imagefolder-empty",
        "an ImageFolder whose class folders hold no images",
        lambda f: ["bench", "tiny_cnn", "--weights", "random", "--data", str(_images(f, ["a", "b"], 0))],
        "no images",
    ),
    Case(
        "imagefolder-one-class",
        "an ImageFolder with one class",
        lambda f: ["bench", "tiny_cnn", "--weights", "random", "--data", str(_images(f, ["a"], 20))],
        "two class folders",
    ),
    Case(
        "imagefolder-truncated-image",
        "an ImageFolder holding a truncated image (found when it is read)",
        _truncated_image,
        "cannot read image",
        mid_run=True,
    ),
    Case("coco-bad-box", "a COCO json with a negative box width", _bad_coco, "bad box"),
    Case("text-no-field", "a .jsonl without `text`", _text_without_text, "missing field 'text'"),
    Case(
        "recipe-unknown-stage",
        "a recipe with a misspelt stage",
        _recipe("model: tiny_cnn\nstages:\n  - quantise: {precision: int8}\n"),
        "line 3",
    ),
    Case(
        "recipe-unknown-key",
        "a recipe with a misspelt option",
        _recipe("model: tiny_cnn\nstages:\n  - quantize:\n      precision: int8\n      calibraton: entropy\n"),
        "unknown key 'calibraton'",
    ),
    Case(
        "input-size",
        "an input size the model cannot take",
        lambda f: ["bench", "vit_tiny", "--weights", "random", "--image-size", "20"],
        "multiple of 8",
    ),
    Case("unexportable-op", "a model with an op ONNX has no export for", _unexportable, "linalg_eigvals"),
    Case("malicious-pickle", "a pickle that would run a shell command", _malicious, "--trust-checkpoint"),
    Case("onnx-external-data", "ONNX external data outside the model's folder", _external_data, "outside"),
    Case(
        "unknown-exclude",
        "an --exclude name the model does not have (found after the baseline export)",
        lambda f: [*_QUANTIZE_RANDOM, "--exclude", "conv9", "--max-samples", "16", "-o", str(f / "out" / "q")],
        "neither a node name nor an op type",
        mid_run=True,
    ),
    Case("outdir-has-results", "an OUTDIR holding earlier results", _outdir_with_results, "--force"),
    Case(
        "model-data-mismatch",
        "a classifier on a detection dataset",
        lambda f: ["bench", "tiny_cnn", "--weights", "random", "--data", "shapes-det"],
        "is a detection dataset",
    ),
    Case("compressed-again", "an fp16 checkpoint (from compress quantize) to quantize", _half_checkpoint, "fp32 model"),
    Case("export-over-file", "an -o file an earlier export wrote", _earlier_export, "already exists; pass --force"),
    Case("outdir-under-a-file", "an OUTDIR whose parent is a file", _outdir_under_a_file, "is a file, so nothing"),
    Case(
        "option-the-model-lacks",
        "--whole-heads for a model without attention heads (checked before the baseline export)",
        lambda f: ["prune", "tiny_cnn", "--weights", "random", "--sparsity", ".5", "--whole-heads", "-o", str(f / "p")],
        "tiny_cnn has none",
    ),
    Case(
        "imagenet-weights-on-other-data",
        "torchvision's ImageNet weights for data whose classes ImageNet lacks (checked before any download)",
        lambda f: ["bench", "resnet18", "--weights", "imagenet", "--data", "shapes"],
        "answers in its dataset's classes",
    ),
    Case(
        "hf-processor-framing",
        "a Hugging Face image classifier whose processor thumbnails and pads (not reproduced, so refused)",
        _hf_processor_that_pads,
        "does not reproduce (do_thumbnail, do_pad)",
    ),
    Case(
        "prune-breaks-forward",
        "a model whose forward reshapes by a channel count pruning changes",
        _hard_coded_width,
        "--ignore NAME",
        mid_run=True,
    ),
    Case(
        "onnx-other-classes",
        "an ONNX classifier from elsewhere with 1,000 outputs, on data of 10 classes",
        _imagenet_onnx,
        "predicts 1000 classes but shapes has 10",
    ),
    Case(
        "onnx-channels-last",
        "an ONNX file taking NHWC images (tf2onnx's default for Keras models)",
        _nhwc_onnx,
        "--inputs-as-nchw input_1",
    ),
    Case(
        "torchscript-archive",
        "a TorchScript archive (torch.jit.save)",
        _torchscript,
        "is a TorchScript archive",
    ),
    Case(
        "four-channel-model",
        "a model whose first convolution reads 4 channels (RGBA)",
        _four_channel_model,
        "RGB (3 channels) or grayscale (1)",
    ),
    Case(
        "unknown-option",
        "a misspelt option (a usage error)",
        lambda f: ["bench", "tiny_cnn", "--batch-size", "8"],
        "No such option: --batch-size",
    ),
]


def run_case(case: Case, folder: Path) -> Outcome:
    """Run the case's command as a user would (the CLI, in this process) and keep what they see."""
    result = CliRunner().invoke(app, case.command(folder))
    traceback = "Traceback" in result.output or (result.exception is not None and result.exit_code != 2)
    return Outcome(result.exit_code, result.stderr.strip(), traceback)


def main() -> None:
    lines = [
        "# Reliability: what a user sees when the input is wrong",
        "",
        "Every row was produced by `python scripts/bad_inputs.py` (the same cases `tests/test_reliability.py`",
        "runs in CI): the broken input, the command, its exit code and the one line on stderr.",
        "",
        "| case | input | exit | message |",
        "|---|---|---|---|",
    ]
    for case in CASES:
        with tempfile.TemporaryDirectory() as scratch:
            outcome = run_case(case, Path(scratch))
            message = outcome.error_line.replace(scratch, "...").replace("|", "\\|")
        lines.append(f"| `{case.name}` | {case.what} | {outcome.exit_code} | {message} |")
        print(f"{case.name}: {outcome.exit_code}", file=sys.stderr)
    DOC.write_text("\n".join(lines) + "\n" + DOC_TAIL)


DOC_TAIL = """
## What else is promised, and where it is tested

- **No traceback**: every `CompressorError` is one line and exit 2, and so is the machine refusing a
  write (a full disk, a read-only or forbidden path); an unexpected error (a bug) is one
  `internal error:` line and exit 3. `compress --debug COMMAND ...` shows the traceback instead.
- **Nothing half-written**: models, reports and records are written to a temporary file beside the
  target and renamed (`compressor/core/files.py`); an OUTDIR holding results is not overwritten without
  `--force`; an OUTDIR a failed command made is removed again unless it holds trained weights, a
  training state or a pipeline record (kept for `--resume`). Ctrl-C exits 130 and SIGTERM 143,
  unwinding so every file is the old one or a whole new one (`tests/test_reliability.py` sends
  SIGTERM to a real run).
- **Long runs resume**: `train` and `distill` (`--resume`, exact: the same final metric), `run` and
  searches (`--resume`: finished stages and candidates are kept).
- **Untrusted files**: checkpoints load with `torch.load(weights_only=True)`; a pickle that would run
  code is refused (above) unless `compress --trust-checkpoint ...` is given for a file you trust;
  `file.py:factory` imports only the file named; ONNX external data must lie inside the model's
  folder.
- **Bounded memory**: calibration and evaluation read the dataset one batch at a time
  (`tests/test_streaming.py` checks what was read when); `--max-samples` caps the val samples scored
  for quick runs.
"""


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
