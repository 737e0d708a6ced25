"""`compress export --format jetson`: what the bundle holds, that its ONNX gives the accuracy its manifest
promises, and its errors. Built on this CPU machine: a bundle needs no GPU."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
import torch
from onnx import numpy_helper
from standin_trtexec import write_engine

from compressor import commands
from compressor.cli import app
from compressor.data import load_dataset
from compressor.exporters.configs import Jetson
from compressor.exporters.engine_check import clear_detections
from compressor.exporters.jetson import (
    JETPACK_TENSORRT,
    _build_only_flag,
    _has_builder_levels,
    _normalisation_words,
    _tensor_specs,
    make_static,
    read_manifest,
)
from compressor.exporters.preprocessing import preprocessing
from compressor.exporters.tensorrt import sha256_of
from compressor.models.loading import load_model

BUNDLE_FILES = {"model.onnx", "manifest.json", "build_engine.sh", "benchmark.sh", "labels.txt", "README.md"}
CHECKED_BUNDLE_FILES = BUNDLE_FILES | {"check", "check_engine.py"}
STANDIN_TRTEXEC = Path(__file__).resolve().parent / "standin_trtexec.py"


def standin_trtexec(folder: Path, version: str) -> Path:
    """An executable `trtexec` of TensorRT `version` (8.5, 8.6, 10.3) that knows that version's options
    only and runs engines under onnxruntime (tests/standin_trtexec.py)."""
    path = folder / "trtexec"
    path.write_text(f'#!/bin/sh\nTRTEXEC_VERSION={version} exec "{sys.executable}" "{STANDIN_TRTEXEC}" "$@"\n')
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def int8_bundle(trained_tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("bundle") / "int8"
    args = ["export", str(trained_tiny), "--format", "jetson", "--precision", "int8", "--batch-size", "2"]
    result = CliRunner().invoke(app, [*args, "--calib-samples", "64", "--max-samples", "300", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_bundle_holds_static_qdq_onnx_scripts_and_a_valid_manifest(int8_bundle: Path) -> None:
    assert {p.name for p in int8_bundle.iterdir()} == CHECKED_BUNDLE_FILES
    manifest = read_manifest(int8_bundle / "manifest.json")  # the pydantic schema validates it
    assert manifest.precision == "int8" and manifest.jetpack == "6.2" and manifest.tensorrt == "10.3"
    assert manifest.onnx_sha256 == sha256_of(int8_bundle / "model.onnx")
    assert manifest.inputs[0].shape == [2, 3, 64, 64] and manifest.outputs[0].shape == [2, 10]
    assert manifest.calibration is not None and manifest.calibration.samples == 64
    assert manifest.labels == (int8_bundle / "labels.txt").read_text().split()
    framing = manifest.preprocessing  # a zoo model's frames: the short side to the input, its centre cropped
    assert (framing.resize, framing.center_crop, framing.interpolation) == ([64], [64, 64], "bilinear")
    assert (
        "short side to 64 (aspect kept) (bilinear), its centre cropped to 64x64"
        in (int8_bundle / "README.md").read_text()
    )

    model = onnx.load(str(int8_bundle / "model.onnx"))
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)] == [("", manifest.opset)]
    for value in [*model.graph.input, *model.graph.output]:
        assert all(dim.HasField("dim_value") for dim in value.type.tensor_type.shape.dim)  # static shapes
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    zero_points = [
        numpy_helper.to_array(initializers[node.input[2]])
        for node in model.graph.node
        if node.op_type == "QuantizeLinear" and len(node.input) > 2
    ]
    assert zero_points and all(
        z.dtype.name == "int8" and not z.any() for z in zero_points
    )  # symmetric, as TensorRT needs
    # No DequantizeLinear of a stored integer tensor: TensorRT rejects int32 ones (onnxruntime's quantized
    # biases; "only activation types allowed as input") and 8.x int8 ones, so biases stay float and weights
    # are float behind a QuantizeLinear/DequantizeLinear pair, which every TensorRT folds.
    kinds = {tensor.name: tensor.data_type for tensor in model.graph.initializer}
    assert not [node.name for node in model.graph.node if node.op_type == "DequantizeLinear" and node.input[0] in kinds]
    quantized_weights = [
        kinds[n.input[0]] for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in kinds
    ]
    assert quantized_weights and set(quantized_weights) == {onnx.TensorProto.FLOAT}
    # Q/DQ on the inputs of weighted layers only, as TensorRT quantizes: none on a Conv's or Gemm's output,
    # so the logits stay float (onnxruntime's default put a pair there)
    producers = {output: node.op_type for node in model.graph.node for output in node.output}
    quantized = [producers.get(n.input[0]) for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert "Relu" in quantized and not {"Conv", "Gemm", "MatMul"} & set(quantized), quantized
    assert {producers[value.name] for value in model.graph.output} == {"Gemm"}


def test_a_detector_bundle_asks_the_device_for_pixels_over_255_only() -> None:
    """A detector normalises inside its graph: the manifest must not ask the device to normalise again
    (it listed ImageNet's mean and std, which the board would have applied twice)."""
    handle = load_model("ssdlite320_mobilenet_v3_large", load_dataset("shapes-det"), weights="random")
    framing = preprocessing(handle)
    assert (framing.scale, framing.mean, framing.std) == (1 / 255, [0.0] * 3, [1.0] * 3)
    assert (framing.resize, framing.center_crop) == ([320, 320], [320, 320])  # resized exactly, as its data is
    assert _normalisation_words(framing) == " (the model normalises them itself)"


def test_static_outputs_take_sizes_from_the_inputs_and_keep_data_dependent_axes_open(tmp_path: Path) -> None:
    """A detector's number of boxes is decided at run time: it stays symbolic (-1 in the manifest). Fixing
    every output axis as if it were an input's wrote boxes [1, 3, 320] for SSDlite's [1, N, 4]."""
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Flatten", ["x"], ["flat"]), onnx.helper.make_node("NonZero", ["x"], ["where"])],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 3, "side", "side"])],
        [
            onnx.helper.make_tensor_value_info("flat", onnx.TensorProto.FLOAT, ["rows", "features"]),
            onnx.helper.make_tensor_value_info("where", onnx.TensorProto.INT64, [4, "found"]),
        ],
    )
    source = tmp_path / "dynamic.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), str(source))
    model = make_static(source, tmp_path / "static.onnx", 2, (3, 8, 8))
    assert [spec.shape for spec in _tensor_specs(model.graph.input)] == [[2, 3, 8, 8]]
    assert [spec.shape for spec in _tensor_specs(model.graph.output)] == [[2, 192], [4, -1]]
    assert model.graph.output[1].type.tensor_type.shape.dim[1].dim_param == "found"  # its name kept


def test_bundle_onnx_benches_at_its_batch_with_the_accuracy_its_manifest_promises(int8_bundle: Path) -> None:
    manifest = read_manifest(int8_bundle / "manifest.json")
    samples = manifest.expected_accuracy.samples
    report = commands.bench(
        str(int8_bundle / "model.onnx"), backends=["onnxruntime"], batch_sizes=[1, 16], max_samples=samples
    )
    (row,) = report.results  # a static graph is timed at its own batch size only, and scored in chunks of it
    assert row.batch_size == manifest.batch_size == 2
    assert row.metrics["top1"] == manifest.expected_accuracy.bundle
    assert abs(manifest.expected_accuracy.bundle - manifest.expected_accuracy.fp32) <= 0.05


def test_scripts_are_valid_bash_with_the_trtexec_flags(int8_bundle: Path) -> None:
    build = (int8_bundle / "build_engine.sh").read_text()
    for flag in ("--int8 --fp16", "--timingCacheFile=timing.cache", "--builderOptimizationLevel=3", "--useDLACore"):
        assert flag in build
    bench = (int8_bundle / "benchmark.sh").read_text()
    assert "tegrastats" in bench and "nvpmodel -q" in bench and "jetson_clocks --show" in bench
    for script in ("build_engine.sh", "benchmark.sh"):
        assert subprocess.run(["bash", "-n", str(int8_bundle / script)]).returncode == 0
        assert (int8_bundle / script).stat().st_mode & 0o111
    assert "__" not in build + bench  # every placeholder filled


def test_a_detector_sample_is_checked_only_when_its_detections_are_clear_of_the_confidence_line() -> None:
    scores = torch.tensor([[0.9, -1.0], [0.9, 0.55], [0.2, 0.1], [0.95, 0.05]])  # -1: padding
    outputs = [torch.zeros(4, 2, 4), scores, torch.zeros(4, 2)]
    assert clear_detections(outputs, 8) == [0, 3]  # 1 has a detection near 0.5; 2 none confident
    assert clear_detections(outputs, 1) == [0]


def _trtexec_json(outputs: dict[str, tuple[str, list[float]]]) -> str:
    """Outputs as trtexec --exportOutput writes them (name, "AxB" dimensions, values)."""
    entries = [
        f'{{ "name" : "{name}"\n  , "dimensions" : "{dims}"\n  , "values" : [ {", ".join(map(str, values))} ]\n  }}'
        for name, (dims, values) in outputs.items()
    ]
    return "[\n  " + "\n, ".join(entries) + "\n]\n"


ONNX_DETECTIONS = {  # two confident detections and one padding row, as onnxruntime gave them
    "boxes": ("1x3x4", [10, 10, 50, 50, 60, 60, 90, 90, 0, 0, 0, 0]),
    "scores": ("1x3", [0.9, 0.8, -1]),
    "labels": ("1x3", [1, 2, -1]),
}


@pytest.mark.parametrize(
    ("change", "passes", "said"),
    [
        ({}, True, "largest difference 0 "),
        ({"boxes": ("1x3x4", [12, 10, 52, 50, 60, 60, 90, 90, 0, 0, 0, 0])}, True, "largest difference 2 (2.00%"),
        ({"labels": ("1x3", [1, 3, -1])}, False, "misses a square (0.80)"),
        ({"scores": ("1x3", [0.9, 0.3, -1])}, False, "misses a square (0.80)"),
        ({"scores": ("1x3", [0.9, 0.8, 0.7]), "labels": ("1x3", [1, 2, 1])}, False, "adds a circle (0.70)"),
    ],
)
def test_the_engine_check_matches_a_detector_s_confident_boxes(
    tmp_path: Path, change: dict, passes: bool, said: str
) -> None:
    """The board's comparison for detectors: every confident detection found again by the other side
    (same label, IoU at least 0.5); a moved box within that is a difference, not a failure."""
    from compressor.exporters import engine_check

    board = tmp_path / "board"
    (board / "check" / "inputs").mkdir(parents=True)
    shutil.copy(Path(engine_check.__file__).parent / "jetson_templates" / "check_engine.py", board)
    (board / "labels.txt").write_text("background\ncircle\nsquare\ntriangle\n")
    (board / "model.engine").write_bytes(b"built on the board")
    (board / "check" / "inputs" / "0.bin").write_bytes(b"")
    shapes = {"boxes": [1, 3, 4], "scores": [1, 3], "labels": [1, 3]}
    check = {
        "task": "detection",
        "input": {"name": "images", "dtype": "float32", "shape": [1, 3, 100, 100]},
        "outputs": [{"name": name, "shape": shape} for name, shape in shapes.items()],
        "confidence": 0.5,
        "match_iou": 0.5,
        "source": "onnxruntime (CPU) on model.onnx",
        "batches": [{"file": "inputs/0.bin", "values": {k: values for k, (_, values) in ONNX_DETECTIONS.items()}}],
    }
    (board / "check" / "expected.json").write_text(json.dumps(check))
    (tmp_path / "engine.json").write_text(_trtexec_json({**ONNX_DETECTIONS, **change}))
    fake = tmp_path / "trtexec"
    fake.write_text(
        f"#!{sys.executable}\nimport shutil, sys\n"
        "out = next(a for a in sys.argv if a.startswith('--exportOutput='))\n"
        f"shutil.copy({str(tmp_path / 'engine.json')!r}, out.split('=', 1)[1])\n"
    )
    fake.chmod(0o755)
    result = subprocess.run(
        [sys.executable, str(board / "check_engine.py")],
        capture_output=True,
        text=True,
        env={**os.environ, "TRTEXEC": str(fake)},
    )
    assert (result.returncode == 0) == passes and said in result.stdout, result.stdout


def test_a_detector_bundle_checks_its_confident_detections_on_the_board(tmp_path: Path) -> None:
    """A detector whose head calls every anchor a circle with confidence: its bundle carries 8 clear
    samples, and the board's check passes an engine that computes model.onnx (the stand-in trtexec)."""
    from compressor.exporters.onnx import export_onnx

    handle = load_model("ssdlite320_mobilenet_v3_large", load_dataset("shapes-det"), weights="random")
    heads = [
        module
        for name, module in handle.module.named_modules()
        if "classification_head" in name and isinstance(module, torch.nn.Conv2d) and module.kernel_size == (1, 1)
    ]
    for head in heads:  # 6 anchors x (background + 6 shapes)
        head.bias.data.view(-1, 7)[:] = torch.tensor([-4.0, 4.0, -4.0, -4.0, -4.0, -4.0, -4.0])
    export_onnx(handle, tmp_path / "detector.onnx", opset=17)
    bundle = tmp_path / "bundle"
    commands.export_jetson(
        str(tmp_path / "detector.onnx"), bundle, Jetson(precision="fp16", max_samples=8), data="shapes-det"
    )
    check = json.loads((bundle / "check" / "expected.json").read_text())
    assert check["task"] == "detection" and len(check["batches"]) == 8
    assert [output["name"] for output in check["outputs"]] == ["boxes", "scores", "labels"]
    assert "same label at IoU 0.5" in (bundle / "README.md").read_text()
    fake = standin_trtexec(tmp_path, "10.3")
    environment = {**os.environ, "TRTEXEC": str(fake)}
    built = subprocess.run([str(bundle / "build_engine.sh")], capture_output=True, text=True, env=environment)
    assert built.returncode == 0, built.stdout + built.stderr
    result = subprocess.run(
        [sys.executable, str(bundle / "check_engine.py")], capture_output=True, text=True, env=environment
    )
    assert result.returncode == 0 and "8 of 8 samples with the confident detections" in result.stdout, result.stdout


def test_a_dla_engine_is_benchmarked_and_checked_on_the_core_it_was_built_for(
    int8_bundle: Path, tmp_path: Path
) -> None:
    """trtexec puts a loaded engine on DLA core 0 unless told: an engine built with --useDLACore 1 was timed
    on core 0. The scripts run here against a trtexec that logs its options and writes what it is asked."""
    board = tmp_path / "board"
    shutil.copytree(int8_bundle, board)
    log = tmp_path / "trtexec.log"
    fake = standin_trtexec(tmp_path, "10.3")
    environment = {**os.environ, "TRTEXEC": str(fake), "TRTEXEC_LOG": str(log)}

    def run(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(command, cwd=board, capture_output=True, text=True, env=environment)

    assert run("./build_engine.sh", "--useDLACore", "x").returncode == 2  # not a core number
    built = run("./build_engine.sh", "--useDLACore", "1")
    assert built.returncode == 0 and "(DLA core 1)" in built.stdout, built.stdout + built.stderr
    assert "--useDLACore=1 --allowGPUFallback" in log.read_text()
    timed = run("./benchmark.sh", "1")
    assert timed.returncode == 0, timed.stdout + timed.stderr
    summary = [line.split("] ")[-1].split(":")[0] for line in timed.stdout.splitlines()[-3:]]
    assert summary == ["Throughput", "Latency", "GPU Compute Time"], timed.stdout  # trtexec's, not H2D and D2H
    assert "--loadEngine=model.engine --useDLACore=1 " in log.read_text().splitlines()[-1]
    assert "engine: model.engine, --useDLACore=1" in (board / "benchmark" / "settings.txt").read_text()
    assert run("./build_engine.sh").returncode == 0 and not (board / "model.engine.dla-core").exists()
    run("./benchmark.sh", "1")
    assert "--useDLACore" not in log.read_text().splitlines()[-1]  # a GPU engine, loaded as one


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed (.ci/run installs it)")
def test_scripts_pass_shellcheck(int8_bundle: Path) -> None:
    """Quoting and exit-status mistakes that `bash -n` does not see, in scripts that run only on the board."""
    scripts = [str(int8_bundle / "build_engine.sh"), str(int8_bundle / "benchmark.sh")]
    result = subprocess.run(["shellcheck", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_the_engine_check_passes_an_engine_that_computes_model_onnx_and_fails_a_broken_one(
    int8_bundle: Path, tmp_path: Path
) -> None:
    """check_engine.py runs on the board (Python 3.8+, standard library): here trtexec is a stand-in that
    runs model.onnx itself, then one whose outputs are reversed, then one that overflows to NaN."""
    script = int8_bundle / "check_engine.py"
    ast.parse(script.read_text(), feature_version=(3, 8))  # JetPack 5's Python
    expected = json.loads((int8_bundle / "check" / "expected.json").read_text())
    assert len(expected["batches"]) == 4 and expected["input"]["shape"] == [2, 3, 64, 64]  # 8 samples, batch 2
    assert (int8_bundle / "check" / "inputs" / "0.bin").stat().st_size == 2 * 3 * 64 * 64 * 4
    assert read_manifest(int8_bundle / "manifest.json").engine_check == "check/expected.json"
    fake = standin_trtexec(tmp_path, "10.3")
    log = tmp_path / "trtexec.log"

    def check(fault: str) -> subprocess.CompletedProcess:
        environment = {**os.environ, "TRTEXEC": str(fake), "ENGINE_FAULT": fault, "TRTEXEC_LOG": str(log)}
        return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=environment)

    assert check("").returncode == 2  # no engine built yet
    write_engine(int8_bundle / "model.engine", int8_bundle / "model.onnx", "10.3", {})
    (int8_bundle / "check" / "expected.json").rename(tmp_path / "expected.json")
    try:
        unreadable = check("")
    finally:
        (tmp_path / "expected.json").rename(int8_bundle / "check" / "expected.json")
    assert unreadable.returncode == 2 and unreadable.stdout.startswith("error:") and not unreadable.stderr
    try:
        passed, reversed_, overflowed = check(""), check("reversed"), check("nan")
        (int8_bundle / "model.engine.dla-core").write_text("1\n")  # build_engine.sh --useDLACore 1
        assert check("").returncode == 0 and log.read_text().splitlines()[-1].endswith("--useDLACore=1")
    finally:
        (int8_bundle / "model.engine").unlink()
        (int8_bundle / "model.engine.dla-core").unlink(missing_ok=True)
    assert passed.returncode == 0 and "8 of 8 samples" in passed.stdout and "PASS" in passed.stdout, passed.stdout
    assert "(0.00% of the outputs' range)" in passed.stdout  # the stand-in prints 6 digits, as trtexec does
    assert reversed_.returncode == 1 and "onnxruntime said" in reversed_.stdout, reversed_.stdout
    assert overflowed.returncode == 1 and "NaN or infinite" in overflowed.stdout, overflowed.stdout


def test_every_jetpack_s_build_flags_are_options_its_trtexec_knows() -> None:
    """Each JetPack's TensorRT, against the option table of that trtexec (its sampleOptions.cpp): the
    build-only spelling and the optimisation-level flag exist there, or are left out where they do not."""
    tables = json.loads((Path(__file__).parent / "data" / "trtexec_options.json").read_text())
    for jetpack, tensorrt in JETPACK_TENSORRT.items():
        known = set(tables[tensorrt]["options"])
        assert _build_only_flag(jetpack) in known, (jetpack, tensorrt)
        assert _has_builder_levels(jetpack) == ("--builderOptimizationLevel" in known), (jetpack, tensorrt)
    assert {_build_only_flag(jetpack) for jetpack in JETPACK_TENSORRT} == {"--buildOnly", "--skipInference"}


@pytest.fixture(scope="module")
def fp16_jetpack5_bundle(trained_tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("bundle") / "fp16"
    args = ["export", str(trained_tiny), "--format", "jetson", "--precision", "fp16", "--jetpack", "5.1"]
    result = CliRunner().invoke(app, [*args, "--max-samples", "100", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_fp16_bundle_keeps_a_float_onnx(fp16_jetpack5_bundle: Path) -> None:
    out = fp16_jetpack5_bundle
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["calibration"] is None and manifest["inputs"][0]["shape"] == [1, 3, 64, 64]
    build = (out / "build_engine.sh").read_text()
    assert "--fp16" in build and "--int8" not in build
    # JetPack 5's TensorRT 8.5 has no builder optimisation level: its trtexec refuses the flag
    assert "--builderOptimizationLevel" not in build and manifest["builder_optimization_level"] is None
    assert subprocess.run(["bash", "-n", str(out / "build_engine.sh")]).returncode == 0
    assert not any(node.op_type == "QuantizeLinear" for node in onnx.load(str(out / "model.onnx")).graph.node)


@pytest.mark.parametrize(
    ("bundle", "tensorrt", "build_only", "other_spelling"),
    [
        ("fp16_jetpack5_bundle", "8.5", "--buildOnly", "--skipInference"),
        ("int8_bundle", "10.3", "--skipInference", "--buildOnly"),
    ],
)
def test_each_jetpack_s_trtexec_builds_times_and_checks_the_bundle(
    request: pytest.FixtureRequest, tmp_path: Path, bundle: str, tensorrt: str, build_only: str, other_spelling: str
) -> None:
    """JetPack 5.1's trtexec (TensorRT 8.5) knows only --buildOnly, 10.3's only --skipInference, and each
    stops on an option it does not know: the bundle's three scripts run against a stand-in trtexec with
    that version's option table (from its sampleOptions.cpp), then with the two spellings swapped."""
    board = tmp_path / "board"
    shutil.copytree(request.getfixturevalue(bundle), board)
    environment = {**os.environ, "TRTEXEC": str(standin_trtexec(tmp_path, tensorrt))}

    def run(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(command, cwd=board, capture_output=True, text=True, env=environment)

    script = board / "build_engine.sh"
    assert build_only in script.read_text() and other_spelling not in script.read_text()
    built = run("./build_engine.sh")
    assert built.returncode == 0 and "Performance summary" not in built.stdout, built.stdout + built.stderr
    timed = run("./benchmark.sh", "1")
    assert timed.returncode == 0 and "] Throughput: " in timed.stdout.splitlines()[-3], timed.stdout + timed.stderr
    checked = run(sys.executable, "check_engine.py")
    assert checked.returncode == 0 and "PASS" in checked.stdout, checked.stdout
    script.write_text(script.read_text().replace(build_only, other_spelling))
    swapped = run("./build_engine.sh")
    assert swapped.returncode == 1 and f"Unknown option: {other_spelling}" in swapped.stdout, swapped.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--precision", "fp32"], "int8 or fp16"),
        (["--jetpack", "4.2"], "unknown JetPack '4.2'"),
    ],
)
def test_bundle_option_errors_are_one_line(
    cli, trained_tiny: Path, tmp_path: Path, extra: list[str], message: str
) -> None:  # noqa: ANN001
    result = cli.invoke(app, ["export", str(trained_tiny), "--format", "jetson", *extra, "-o", str(tmp_path / "b")])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "b").exists()


def test_an_existing_bundle_is_not_overwritten_without_force(cli, int8_bundle: Path, trained_tiny: Path) -> None:  # noqa: ANN001
    before = (int8_bundle / "manifest.json").read_text()
    result = cli.invoke(app, ["export", str(trained_tiny), "--format", "jetson", "-o", str(int8_bundle)])
    assert result.exit_code == 2 and "--force" in result.output
    assert (int8_bundle / "manifest.json").read_text() == before
