"""Compressed models (fp16 checkpoints, int8 ONNX files) are labelled as what they are, and refused in one
line where a command needs the fp32 model."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnxruntime.quantization import quantize_dynamic
from typer.testing import CliRunner

from compressor import commands
from compressor.cli import app
from compressor.data import load_dataset
from compressor.models.checkpoint import save_checkpoint
from compressor.models.loading import load_model
from compressor.models.precision import onnx_graph_precision

FAST = {"data": "shapes", "batch_sizes": [1], "max_samples": 32}


@pytest.fixture(scope="module")
def compressed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """tiny_cnn (random weights) as an fp16 checkpoint, an fp32 ONNX file and, quantized by onnxruntime
    alone (no compressor metadata about it), an int8 ONNX file."""
    folder = tmp_path_factory.mktemp("compressed")
    handle = load_model("tiny_cnn", load_dataset("shapes"), weights="random")
    state = handle.module.half().state_dict()  # type: ignore[union-attr]
    save_checkpoint(folder / "model.fp16.pt", state, {**handle.describe(), "precision": "fp16"})
    commands.export("tiny_cnn", folder / "model.onnx", data="shapes", weights="random")
    quantize_dynamic(folder / "model.onnx", folder / "model.int8.onnx")
    return {"fp16": folder / "model.fp16.pt", "fp32": folder / "model.onnx", "int8": folder / "model.int8.onnx"}


def test_onnx_precision_is_read_from_the_graph(compressed: dict[str, Path], tmp_path: Path) -> None:
    assert onnx_graph_precision(onnx.load(str(compressed["fp32"]))) == "fp32"
    assert onnx_graph_precision(onnx.load(str(compressed["int8"]))) == "int8"
    half = onnx.load(str(compressed["fp32"]))
    for tensor in half.graph.initializer:
        tensor.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(tensor).astype("float16"), tensor.name))
    assert onnx_graph_precision(half) == "fp16"


@pytest.mark.parametrize(("kind", "backend"), [("fp16", "torch"), ("int8", "onnxruntime"), ("fp32", "onnxruntime")])
def test_bench_rows_carry_the_models_precision(compressed: dict[str, Path], kind: str, backend: str) -> None:
    report = commands.bench(str(compressed[kind]), backends=[backend], **FAST)
    assert {row.precision for row in report.results} == {kind}


@pytest.mark.parametrize(
    "args",
    [
        ["quantize", "{fp16}", "--precision", "int8", "-o", "{out}"],
        ["quantize", "{int8}", "--precision", "int8", "-o", "{out}"],
        ["quantize", "{int8}", "--precision", "fp16", "-o", "{out}"],
        ["export", "{fp16}", "-o", "{out}.onnx"],
        ["export", "{fp16}", "--format", "jetson", "-o", "{out}"],
        ["prune", "{fp16}", "--sparsity", "0.5", "-o", "{out}"],
        ["distill", "--teacher", "{fp16}", "--student", "tiny_cnn", "-o", "{out}"],
        ["distill", "--teacher", "tiny_cnn", "--teacher-weights", "random", "--student", "{fp16}", "-o", "{out}"],
    ],
)
def test_compressed_models_are_refused_where_fp32_is_needed(
    cli: CliRunner, compressed: dict[str, Path], tmp_path: Path, args: list[str]
) -> None:
    """These failed deep in the exporter or the quantizer (internal errors, or a broken int8-of-int8 file)."""
    paths = {kind: str(path) for kind, path in compressed.items()}
    result = cli.invoke(app, [arg.format(out=tmp_path / "out", **paths) for arg in args], terminal_width=400)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and "already; " in result.output and "fp32 model" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())
