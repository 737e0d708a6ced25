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
needs_nncf = pytest.mark.skipif(
    importlib.util.find_spec("nncf") is None, reason="needs NNCF: pip install 'compressor[openvino]'"
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


@needs_nncf
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
    report = json.loads((out / "report.json").read_text())
    chosen = report["quantization"]["openvino"]
    assert set(chosen["candidates"]) == {"compressor Q/DQ", "nncf"} and len(chosen["rounds"]) >= 5
    kept = chosen["candidates"][chosen["kept"]]
    assert rows[("int8", "openvino")]["artifact"] == kept and (out / kept).is_file()
    assert rows[("int8", "onnxruntime")]["artifact"] == "model.int8.onnx"
    assert (out / "model.int8-openvino.xml").exists() == (chosen["kept"] == "nncf")
    assert "nncf" not in result.stdout.lower()  # NNCF's own logging stays off our stdout
    fastest = {(entry["batch_size"], entry["backend"]) for entry in report["fastest"]}
    assert len(fastest) == 1 and any(note.startswith("fastest within 1 pt") for note in report["notes"])


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


@needs_nncf
@pytest.mark.parametrize(("ratio", "kept"), [(1.5, "nncf"), (0.8, "compressor Q/DQ")])
def test_the_faster_int8_on_openvino_is_kept_and_named(
    trained_tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ratio: float, kept: str
) -> None:
    """Head to head on OpenVINO, NNCF's IR against the Q/DQ file: the faster is what the openvino rows run,
    the other is not left in OUTDIR; the tuner, with openvino the only backend, times on OpenVINO."""
    from compressor import commands
    from compressor.methods import openvino_int8, speed_tune
    from compressor.methods.quantize import Int8Request
    from compressor.runtime.openvino_runner import OpenVinoRunner

    opened: list[object] = []

    def scripted(reference: Path, candidate: Path, batches: object, rounds: int, open_runner: object) -> list[float]:
        opened.append(open_runner)
        return [ratio] * rounds

    monkeypatch.setattr(speed_tune, "round_ratios", scripted)
    monkeypatch.setattr(openvino_int8, "round_ratios", scripted)
    request = Int8Request(calib_samples=32)
    report = commands.quantize(
        str(trained_tiny), tmp_path / "q", "int8", int8=request, batch_sizes=[1], max_samples=100,
        backends=["openvino"],
    )  # fmt: skip
    chosen = report.quantization["openvino"]  # type: ignore[attr-defined]
    assert chosen["kept"] == kept and chosen["nncf_speedup"] == ratio
    row = next(row for row in report.results if row.variant == "int8")
    assert row.artifact == chosen["candidates"][kept]
    assert (tmp_path / "q" / "model.int8-openvino.xml").exists() == (kept == "nncf")
    assert report.quantization["speed_trials"] and set(opened) == {OpenVinoRunner}  # type: ignore[attr-defined]


def test_export_openvino_writes_an_ir_that_reloads_and_scores_as_onnx(trained_tiny: Path, cli, tmp_path: Path) -> None:  # noqa: ANN001
    """`--format openvino`: .xml and .bin with the model's description (bench reloads it by path) and
    OpenVINO's Model API keys; the IR scores as the ONNX export does on onnxruntime."""
    import openvino

    xml = tmp_path / "ir" / "model.xml"
    result = cli.invoke(app, ["export", str(trained_tiny), "--format", "openvino", "-o", str(xml)])
    assert result.exit_code == 0, result.output
    assert xml.with_suffix(".bin").is_file() and "parity on openvino" in result.stdout
    model = openvino.Core().read_model(str(xml))
    assert model.get_rt_info(["model_info", "model_type"]).astype(str) == "Classification"
    assert model.get_rt_info(["model_info", "mean_values"]).astype(str).split() == ["123.675", "116.28", "103.53"]
    onnx_file = tmp_path / "m.onnx"
    assert cli.invoke(app, ["export", str(trained_tiny), "-o", str(onnx_file)]).exit_code == 0
    scores = {}
    for model_file, backend in ((xml, "openvino"), (onnx_file, "onnxruntime")):
        report = tmp_path / f"{backend}.json"
        args = ["bench", str(model_file), "--backend", backend, "--batch-sizes", "1", "--max-samples", "300"]
        result = cli.invoke(app, [*args, "--json", str(report)])
        assert result.exit_code == 0, result.output
        scores[backend] = json.loads(report.read_text())["results"][0]["metrics"]["top1"]
    assert scores["onnxruntime"] > 0.2 and abs(scores["openvino"] - scores["onnxruntime"]) <= 0.002
    refused = cli.invoke(app, ["bench", str(xml), "--batch-sizes", "1"])
    assert refused.exit_code != 0 and "pass --backend openvino" in refused.output
    wrong = cli.invoke(app, ["export", str(trained_tiny), "--format", "openvino", "-o", str(tmp_path / "m.ir")])
    assert wrong.exit_code != 0 and "name the .xml file" in wrong.output and not (tmp_path / "m.ir").exists()


def test_prune_measures_on_openvino_and_names_the_fastest_row(trained_tiny: Path, cli, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "p"
    args = ["prune", str(trained_tiny), "--sparsity", "0.5", "--finetune-epochs", "0", "--batch-sizes", "1"]
    result = cli.invoke(app, [*args, "--backend", "onnxruntime,openvino", "--max-samples", "200", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert {(row["variant"], row["backend"]) for row in report["results"]} == {
        (variant, backend) for variant in ("baseline", "pruned") for backend in ("onnxruntime", "openvino")
    }
    (fastest,) = report["fastest"]
    rows = [row for row in report["results"] if row["batch_size"] == fastest["batch_size"]]
    best = max(row["metrics"]["top1"] for row in rows if row["variant"] == "baseline")
    within = [row for row in rows if (best - row["metrics"]["top1"]) * 100 <= fastest["budget"]]
    quickest = min(within, key=lambda row: row["latency_ms"]["p50"])
    assert (fastest["variant"], fastest["backend"]) == (quickest["variant"], quickest["backend"])
    assert fastest["rows"] == len(within)


def test_the_api_exports_an_openvino_ir_that_measures(tmp_path: Path) -> None:
    import compressor as cz

    data = cz.load_dataset("shapes")
    model = cz.load_model("tiny_cnn", data, weights="random")
    ir = cz.export(model, cz.OpenVino(), tmp_path / "tiny.xml", data)
    assert ir.openvino_ir and (tmp_path / "tiny.bin").is_file()
    report = cz.measure({"ir": ir}, data, backends=["openvino"], batch_sizes=[1], max_samples=32)
    assert [(row.backend, row.artifact) for row in report.results] == [("openvino", "tiny.xml")]


def test_without_nncf_the_q_dq_file_runs_on_openvino(
    trained_tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compressor import commands
    from compressor.core.errors import MissingDependencyError
    from compressor.methods import openvino_int8
    from compressor.methods.quantize import Int8Request

    def missing() -> None:
        raise MissingDependencyError("NNCF is not installed: pip install 'compressor[openvino]'")

    monkeypatch.setattr(openvino_int8, "import_nncf", missing)
    report = commands.quantize(
        str(trained_tiny), tmp_path / "q", "int8", int8=Int8Request(calib_samples=32, tune_speed=False),
        batch_sizes=[1], max_samples=100, backends=["openvino"],
    )  # fmt: skip
    assert report.quantization["openvino"]["kept"] == "compressor Q/DQ"  # type: ignore[attr-defined]
    assert [row.artifact for row in report.results if row.variant == "int8"] == ["model.int8.onnx"]


@needs_nncf
def test_nncf_is_held_to_the_accuracy_budget(
    trained_tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under --max-accuracy-drop NNCF quantizes with accuracy control, scored by our metric on the samples
    our own budget check scores."""
    import nncf

    from compressor import commands
    from compressor.methods.quantize import Int8Request

    calls: list[dict] = []
    real = nncf.quantize_with_accuracy_control

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(nncf, "quantize_with_accuracy_control", spy)
    request = Int8Request(calib_samples=32, tune_speed=False, max_accuracy_drop=1.0, max_samples=120)
    report = commands.quantize(
        str(trained_tiny), tmp_path / "q", "int8", int8=request, batch_sizes=[1], max_samples=120,
        backends=["onnxruntime", "openvino"],
    )  # fmt: skip
    assert report.quantization["openvino"]["nncf_accuracy_control"] is True  # type: ignore[attr-defined]
    assert [call["max_drop"] for call in calls] == [0.01]  # 1 pt of top-1, on its 0-1 scale
    rows = {(row.variant, row.backend): row.metrics["top1"] for row in report.results}
    assert rows[("baseline", "openvino")] - rows[("int8", "openvino")] <= 0.01 + 1e-9
    assert report.model_extra["fastest"][0]["budget"] == 1.0  # type: ignore[index]


@needs_nncf
def test_cz_int8_for_openvino_carries_the_faster_model_for_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import compressor as cz
    from compressor.methods import openvino_int8

    monkeypatch.setattr(openvino_int8, "round_ratios", lambda *args: [1.3] * args[3])  # NNCF's the faster
    data = cz.load_dataset("shapes")
    model = cz.load_model("tiny_cnn", data, weights="random", image_size=(32, 32))
    int8 = cz.compress(model, cz.Int8(backends=["onnxruntime", "openvino"], tune_speed=False, calib_samples=16), data)
    assert int8.artifacts["openvino"].openvino_ir
    report = cz.measure({"int8": int8}, data, backends=["onnxruntime", "openvino"], batch_sizes=[1], max_samples=16)
    artifacts = {row.backend: row.artifact for row in report.results}
    assert artifacts["openvino"].endswith(".int8-openvino.xml") and artifacts["onnxruntime"].endswith(".int8.onnx")


def test_a_recipe_exports_an_ir_and_passes_its_model_on(cli, tmp_path: Path) -> None:  # noqa: ANN001
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "schema: compressor.recipe/1\nmodel: tiny_cnn\nweights: random\nimage_size: 32\nbatch_sizes: [1]\n"
        "max_samples: 16\nstages:\n  - export: {format: openvino}\n  - bench: {backends: [openvino]}\n"
    )
    out = tmp_path / "out"
    result = cli.invoke(app, ["run", str(recipe), "-o", str(out)])
    assert result.exit_code == 0, result.output
    stages = json.loads((out / "pipeline.json").read_text())["stages"]
    assert (out / stages[0]["folder"] / "model.xml").is_file() and (out / stages[0]["folder"] / "model.bin").is_file()
    assert stages[1]["model_in"] == stages[0]["model_in"]  # an IR is an end product: bench got the model itself


def test_a_corrupt_ir_is_refused_in_one_line_that_says_why(cli, tmp_path: Path) -> None:  # noqa: ANN001
    xml = tmp_path / "broken.xml"
    xml.write_text("garbage")
    xml.with_suffix(".bin").write_bytes(b"x")
    result = cli.invoke(app, ["bench", str(xml), "--backend", "openvino"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: OpenVINO cannot read {xml}: Unable to read the model")
