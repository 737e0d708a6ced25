"""`import compressor as cz`: the names a library user starts from, and what each promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import compressor as cz
from compressor.core.errors import InputFileError, OptionError, UnknownNameError


def test_load_model_never_trains_and_reference_model_does(
    image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("COMPRESSOR_CACHE", str(tmp_path / "cache"))  # a cache of its own: other tests see none
    data = cz.load_dataset(str(image_folder))
    assert cz.load_model("tiny_cnn", data, weights="random").weights == "random"
    with pytest.raises(InputFileError, match="no reference checkpoint for tiny_cnn"):
        cz.load_model("tiny_cnn", data)
    trained = cz.reference_model("tiny_cnn", data)
    assert "training one now" in capsys.readouterr().err
    assert cz.load_model("tiny_cnn", data).weights == trained.weights  # now cached: loaded, not trained
    with pytest.raises(UnknownNameError, match="unknown model 'tiny_cn'"):
        cz.reference_model("tiny_cn", data)


def test_the_public_names_cost_nothing_until_used() -> None:
    code = "import sys, compressor; print('torch' in sys.modules, sorted(compressor.__all__))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("False") and "reference_model" in out and "register_backend" in out
    with pytest.raises(AttributeError, match="no attribute 'compress_everything'"):
        cz.compress_everything  # noqa: B018


def test_a_script_with_only_cz_compresses_exports_and_measures(tmp_path: Path) -> None:
    """The issue's walk-through on tiny_cnn with random weights: compress in memory, compose, export, measure."""
    data = cz.load_dataset("shapes")
    model = cz.load_model("tiny_cnn", data, weights="random")
    int8 = cz.compress(model, cz.Int8(calibration="entropy", calib_samples=32, tune_speed=False), data)
    thin = cz.compress(model, cz.Prune(sparsity=0.5), data)
    thin_int8 = cz.compress(thin, cz.Int8(calib_samples=32, tune_speed=False), data)
    onnx = cz.export(model, cz.Onnx(opset=18), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == [tmp_path / "m.onnx"]  # compress wrote nothing here; export its one file
    assert model.module is not None and int8.module is None and int8.onnx_path is not None
    assert onnx.onnx_path == tmp_path / "m.onnx" and thin.module is not None
    assert [step["kind"] for step in thin_int8.metadata["methods"]] == ["prune", "quantize"]
    models = {"baseline": model, "int8": int8, "pruned": thin, "pruned+int8": thin_int8}
    report = cz.measure(models, data, backends=["torch", "onnxruntime"], batch_sizes=[1], max_samples=64)
    written = report.write(tmp_path / "out")
    rows = {(row["variant"], row["backend"]) for row in json.loads((written / "report.json").read_text())["results"]}
    assert rows == {
        ("baseline", "torch"), ("baseline", "onnxruntime"), ("int8", "onnxruntime"), ("pruned", "torch"),
        ("pruned", "onnxruntime"), ("pruned+int8", "onnxruntime"),
    }  # fmt: skip
    assert {path.name for path in written.iterdir()} == {"report.json", "report.md", "report.html"}
    settings = json.loads((written / "report.json").read_text())["settings"]
    assert settings["int8"] == [{"kind": "quantize", "variant": "int8", "calibration": "entropy", "calib_samples": 32,
                                 "tune_speed": False}]  # fmt: skip


def test_compress_refuses_what_the_method_cannot_take(tmp_path: Path) -> None:
    data = cz.load_dataset("shapes")
    model = cz.load_model("tiny_cnn", data, weights="random")
    onnx = cz.export(model, cz.Onnx(), tmp_path / "m.onnx")
    with pytest.raises(InputFileError, match="m.onnx is an ONNX model; prune needs a torch model|ONNX model; prune"):
        cz.compress(onnx, cz.Prune(sparsity=0.5), data)
    with pytest.raises(OptionError, match="exactly one of --sparsity"):
        cz.compress(model, cz.Prune(sparsity=0.5, threshold=0.1), data)


def test_fp16_bf16_and_distill_take_the_same_shape(tmp_path: Path) -> None:
    data = cz.load_dataset("shapes")
    model = cz.load_model("tiny_cnn", data, weights="random")
    fp16 = cz.compress(model, cz.Fp16(), data)
    assert fp16.module is not None and next(fp16.module.parameters()).dtype == torch.float16
    assert fp16.artifacts["onnx"].onnx_path is not None  # the fp16 ONNX file for onnxruntime rows
    bf16 = cz.compress(model, cz.Bf16(), data)
    assert next(bf16.module.parameters()).dtype == torch.bfloat16 and not bf16.artifacts
    student = cz.load_model("tiny_cnn", data, weights="random")
    taught = cz.compress(student, cz.Distill(teacher=model, epochs=1), data, output=tmp_path / "d")
    assert (tmp_path / "d" / "distilled.pt").is_file() and taught.module is not student.module
    assert taught.metadata["methods"] == [
        {"kind": "distill", "variant": "distilled", "epochs": 1, "teacher": "tiny_cnn"}
    ]
    report = cz.measure({"baseline": model, "fp16": fp16}, data, backends=["torch", "onnxruntime"], batch_sizes=[1],
                        max_samples=32)  # fmt: skip
    assert {(row.variant, row.precision, row.backend) for row in report.results} >= {
        ("fp16", "fp16", "torch"), ("fp16", "fp16", "onnxruntime")
    }  # fmt: skip


def test_export_makes_a_jetson_bundle_from_a_model_in_memory(tmp_path: Path) -> None:
    data = cz.load_dataset("shapes")
    model = cz.load_model("tiny_cnn", data, weights="random")
    manifest = cz.export(model, cz.Jetson(precision="fp16", max_samples=32), tmp_path / "bundle", data)
    assert manifest.precision == "fp16" and manifest.expected_accuracy.samples == 32
    assert {"model.onnx", "manifest.json", "build_engine.sh"} <= {path.name for path in (tmp_path / "bundle").iterdir()}
    with pytest.raises(OptionError, match="needs `data`"):
        cz.export(model, cz.Jetson(), tmp_path / "other")
