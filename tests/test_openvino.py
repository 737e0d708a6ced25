"""The openvino backend: the same ONNX files onnxruntime runs, through OpenVINO's CPU plugin, scored and
timed beside onnxruntime's rows. Skipped where OpenVINO is not installed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from compressor.cli import app

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None, reason="needs OpenVINO: pip install 'compressor[openvino]'"
)


def test_bench_scores_the_onnx_file_on_openvino_as_onnxruntime_does(trained_tiny: Path, cli, tmp_path: Path) -> None:  # noqa: ANN001
    report = tmp_path / "r.json"
    args = ["bench", str(trained_tiny), "--backend", "onnxruntime,openvino", "--batch-sizes", "1,4"]
    result = cli.invoke(app, [*args, "--max-samples", "400", "--json", str(report)])
    assert result.exit_code == 0, result.output
    rows = json.loads(report.read_text())["results"]
    top1 = {row["backend"]: row["metrics"]["top1"] for row in rows}
    assert set(top1) == {"onnxruntime", "openvino"} and top1["onnxruntime"] > 0.2  # above chance (0.1)
    assert abs(top1["openvino"] - top1["onnxruntime"]) <= 0.002  # float32 on both: 0.2 pt at most
    assert {row["batch_size"] for row in rows if row["backend"] == "openvino"} == {1, 4}


def test_quantize_measures_int8_on_openvino(trained_tiny: Path, cli, tmp_path: Path) -> None:  # noqa: ANN001
    """The Q/DQ int8 file runs on OpenVINO as it is (its CPU plugin executes the quantized ops in int8)."""
    out = tmp_path / "q"
    args = ["quantize", str(trained_tiny), "--precision", "int8", "--no-tune-speed", "--calib-samples", "64"]
    result = cli.invoke(
        app, [*args, "--backend", "onnxruntime,openvino", "--batch-sizes", "1", "--max-samples", "400", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = {(row["variant"], row["backend"]): row for row in json.loads((out / "report.json").read_text())["results"]}
    assert set(rows) == {(v, b) for v in ("baseline", "int8") for b in ("onnxruntime", "openvino")}
    drop = rows[("baseline", "openvino")]["metrics"]["top1"] - rows[("int8", "openvino")]["metrics"]["top1"]
    assert drop <= 0.02


def test_the_openvino_backend_refuses_a_gpu_in_one_line(trained_tiny: Path, cli) -> None:  # noqa: ANN001
    from compressor.core.errors import BackendUnavailableError
    from compressor.runtime.openvino_runner import OpenVinoRunner

    with pytest.raises(BackendUnavailableError, match="runs on the CPU here"):
        OpenVinoRunner(trained_tiny, "cuda")


def test_bf16_is_measured_on_openvino_where_the_cpu_computes_it(trained_tiny: Path, cli, tmp_path: Path) -> None:  # noqa: ANN001
    """--precision bf16: OpenVINO runs the fp32 file with bf16 inference precision; onnxruntime, which has no
    bf16 kernels on the CPU, gets no bf16 row rather than a float32 one labelled bf16."""
    from compressor.core.errors import BackendUnavailableError
    from compressor.runtime.openvino_runner import check_bf16

    try:
        check_bf16()
    except BackendUnavailableError as error:
        pytest.skip(str(error))
    out = tmp_path / "bf16"
    args = ["quantize", str(trained_tiny), "--precision", "bf16", "--backend", "onnxruntime,openvino"]
    result = cli.invoke(app, [*args, "--batch-sizes", "1", "--max-samples", "400", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = {(row["variant"], row["backend"]): row for row in json.loads((out / "report.json").read_text())["results"]}
    assert set(rows) == {("baseline", "onnxruntime"), ("baseline", "openvino"), ("bf16", "openvino")}
    assert rows[("bf16", "openvino")]["precision"] == "bf16"
    drop = rows[("baseline", "openvino")]["metrics"]["top1"] - rows[("bf16", "openvino")]["metrics"]["top1"]
    assert abs(drop) <= 0.02
    assert "bf16: no artifact for backend onnxruntime; skipped" in result.stderr


def test_a_file_marked_bf16_is_compiled_for_bf16_and_others_for_f32(trained_tiny: Path, tmp_path: Path) -> None:
    import dataclasses

    from compressor import commands
    from compressor.core.errors import BackendUnavailableError
    from compressor.runtime import make_runner
    from compressor.runtime.openvino_runner import check_bf16

    try:
        check_bf16()
    except BackendUnavailableError as error:
        pytest.skip(str(error))
    fp32 = commands.export(str(trained_tiny), tmp_path / "m.onnx")[0]
    marked = dataclasses.replace(fp32, metadata={**fp32.metadata, "precision": "bf16"})
    runners = [make_runner(handle, "openvino") for handle in (fp32, marked)]
    hints = [runner.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name() for runner in runners]
    assert hints == ["f32", "bf16"]
