"""`compress distill` on tiny models: the teacher, distilled and scratch rows of one run, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

from compressor.cli import app
from compressor.data import load_dataset
from compressor.models.loading import load_model


def test_distill_writes_teacher_distilled_and_scratch_rows(cli, trained_tiny: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    args = ["distill", "--teacher", str(trained_tiny), "--student", "tiny_cnn", "--epochs", "1", "--compare-scratch"]
    result = cli.invoke(app, [*args, "--max-samples", "100", "--batch-sizes", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output

    report = json.loads((out / "report.json").read_text())
    rows = {(row["variant"], row["backend"]) for row in report["results"]}
    assert rows == {(v, b) for v in ("teacher", "distilled", "scratch") for b in ("torch", "onnxruntime")}
    assert report["distillation"]["temperature"] == 4.0 and report["distillation"]["alpha"] == 0.7
    assert {v["reference"] for v in report["verdicts"]} == {"teacher"}
    student = load_model(str(out / "distilled.pt"), load_dataset("shapes"))
    assert student.module is not None and (out / "scratch.onnx").is_file()
    assert report["distillation"]["distilled"]["best_epoch"] == 1 and "best_val" in report["distillation"]["scratch"]


def test_distill_errors_are_one_line(cli, trained_tiny: Path, tmp_path: Path) -> None:  # noqa: ANN001
    base = ["distill", "--teacher", str(trained_tiny), "-o", str(tmp_path / "out")]
    bad_alpha = cli.invoke(app, [*base, "--student", "tiny_cnn", "--alpha", "1.5"])
    assert bad_alpha.exit_code == 2 and "--alpha in [0, 1]" in bad_alpha.output
    wrong_size = cli.invoke(app, [*base, "--student", "tiny_cnn", "--image-size", "32"])
    assert wrong_size.exit_code == 2 and "Traceback" not in wrong_size.output
    assert not (tmp_path / "out" / "report.json").exists()
