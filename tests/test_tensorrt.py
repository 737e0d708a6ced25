"""TensorRT engines: the builder's settings (checked against a recording stand-in for the tensorrt module,
so they are tested on any machine), and real engines where TensorRT and a GPU exist (skipped here)."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from standin_tensorrt import StandInTensorRT, read_plan, stand_in_for_cuda

from compressor import commands
from compressor.cli import app
from compressor.core.errors import ExportError, InputFileError
from compressor.exporters.configs import TensorRT
from compressor.exporters.engines import engine_artifact
from compressor.exporters.jetson import make_static
from compressor.exporters.tensorrt import BatchProfile, build_engine, profile_shapes, sha256_of, uses_strong_typing
from compressor.models.onnx_file import read_onnx_handle
from compressor.runtime import tensorrt_runner
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner
from compressor.runtime.tensorrt_engine import metadata_path
from compressor.runtime.tensorrt_runner import TensorRTRunner, output_allocator

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    commands.export("tiny_cnn", path, weights="random")
    return path


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> StandInTensorRT:
    """TensorRT 10 as a stand-in (tests/standin_tensorrt.py): the builder records its settings, the engines
    it builds run under the real TensorRTRunner, computed by onnxruntime from host memory."""
    fake = StandInTensorRT()
    stand_in_for_cuda(monkeypatch, fake)
    return fake


def test_builder_sets_profile_flags_level_and_reuses_the_timing_cache(
    recorder: StandInTensorRT, tiny_onnx: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "timing.cache"
    record = build_engine(tiny_onnx, tmp_path / "m.engine", "int8", BatchProfile(1, 4, 16), cache)
    assert ("shape", "input", [1, 3, 64, 64], [4, 3, 64, 64], [16, 3, 64, 64]) in recorder.calls
    assert ("level", 3) in recorder.calls and ("flag", 1) in recorder.calls and ("flag", 0) in recorder.calls
    assert ("network_flags", 0) in recorder.calls  # weakly typed: precision by flags
    assert ("cache_in", b"") in recorder.calls and cache.read_bytes() == b"timings"
    assert read_plan(tmp_path / "m.engine")["onnx"] == str(tiny_onnx)  # the serialized engine, written
    written = json.loads(metadata_path(tmp_path / "m.engine").read_text())
    assert (
        written["precision"] == "int8" and written["gpu"] == "Stand-in GPU" and written["tensorrt_version"] == "10.3.0"
    )
    assert written["inputs"]["input"]["max"] == [16, 3, 64, 64] and len(written["onnx_sha256"]) == 64
    assert record.builder_optimization_level == 3

    recorder.calls.clear()
    build_engine(tiny_onnx, tmp_path / "m2.engine", "fp32", timing_cache=cache)
    assert ("cache_in", b"timings") in recorder.calls  # the second build starts from the first's timings
    assert not [call for call in recorder.calls if call[0] == "flag"]


def test_an_exported_engine_records_how_frames_are_prepared(recorder: StandInTensorRT, tmp_path: Path) -> None:
    """The record beside model.engine says what a deployment must do to a frame, as the Jetson manifest
    does (before, only the ONNX beside the engine carried the input spec)."""
    record = commands.export_tensorrt("tiny_cnn", tmp_path / "m.engine", TensorRT(raw_pixels=True), weights="random")
    written = json.loads(metadata_path(tmp_path / "m.engine").read_text())
    assert written["extra"] == record.extra
    framing = record.extra["preprocessing"]  # --raw-pixels: the engine normalises, the device only scales by 1
    assert (framing["resize"], framing["center_crop"]) == ([64], [64, 64])
    assert (framing["scale"], framing["mean"], framing["std"]) == (1.0, [0.0] * 3, [1.0] * 3)


def test_an_exported_engine_is_checked_against_its_onnx_file(
    recorder: StandInTensorRT, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Accuracy an engine build loses is measured where the engine is built: its predictions against
    onnxruntime on the ONNX it came from, on real val samples, kept in the record and warned about."""
    record = commands.export_tensorrt("tiny_cnn", tmp_path / "m.engine", TensorRT(precision="int8"), weights="random")
    parity = json.loads(metadata_path(tmp_path / "m.engine").read_text())["extra"]["parity_vs_onnx"]
    assert parity == record.extra["parity_vs_onnx"] and parity["agreement"] == 1.0 and parity["samples"] == 32
    assert ("parsed", str(tmp_path / "m.int8.onnx")) in recorder.calls  # int8: built from the Q/DQ file

    class Reversed(OnnxRuntimeRunner):  # an engine whose classes come out in the wrong order
        def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
            return [output.flip(-1) for output in super().run(inputs)]

    monkeypatch.setattr(tensorrt_runner, "TensorRTRunner", lambda path, device="cuda": Reversed(tmp_path / "m.onnx"))
    record = commands.export_tensorrt("tiny_cnn", tmp_path / "m.engine", weights="random", force=True)
    assert record.extra["parity_vs_onnx"]["agreement"] < 0.5


def test_newer_tensorrt_without_precision_flags_builds_strongly_typed(
    monkeypatch: pytest.MonkeyPatch, tiny_onnx: Path, tmp_path: Path
) -> None:
    fake = StandInTensorRT(has_precision_flags=False)
    stand_in_for_cuda(monkeypatch, fake)
    record = build_engine(tiny_onnx, tmp_path / "m.engine", "fp16")
    assert record.strongly_typed and ("network_flags", 1 << 5) in fake.calls


def test_int8_is_strongly_typed_unless_both_precision_flags_exist() -> None:
    # an int8 engine sets FP16 too (its float layers); a TensorRT with INT8 but no FP16 flag would fail there
    only_int8 = types.SimpleNamespace(BuilderFlag=types.SimpleNamespace(INT8=1))
    both = types.SimpleNamespace(BuilderFlag=types.SimpleNamespace(FP16=0, INT8=1))
    assert uses_strong_typing(only_int8, "int8") and not uses_strong_typing(both, "int8")
    assert not uses_strong_typing(only_int8, "fp32")


def test_text_models_get_a_sequence_range_in_the_profile(tmp_path: Path) -> None:
    path = tmp_path / "text.onnx"
    commands.export("text_transformer", path, data="topics", weights="random")
    shapes = profile_shapes(path, BatchProfile(1, 8, 32))
    assert shapes["input_ids"]["min"] == [1, 1] and shapes["input_ids"]["max"][0] == 32
    assert shapes["input_ids"]["opt"][1] == shapes["input_ids"]["max"][1] > 1


def test_a_static_graph_is_built_without_a_profile_that_contradicts_it(
    recorder: StandInTensorRT, tiny_onnx: Path, tmp_path: Path
) -> None:
    """A Jetson bundle's model.onnx (batch fixed to 2) or a detector (batch 1): a profile of batches 1..32
    on a fixed axis fails TensorRT's build; the engine takes the graph's own shape."""
    static = tmp_path / "static.onnx"
    make_static(tiny_onnx, static, 2, (3, 64, 64))
    record = build_engine(static, tmp_path / "m.engine", "fp32", BatchProfile(1, 8, 32))
    assert not [call for call in recorder.calls if call[0] in ("shape", "profile")]
    assert record.inputs["input"] == {"min": [2, 3, 64, 64], "opt": [2, 3, 64, 64], "max": [2, 3, 64, 64]}


def test_an_engine_of_a_static_graph_is_scored_and_timed_at_the_graph_s_batch(
    monkeypatch: pytest.MonkeyPatch, tiny_onnx: Path, tmp_path: Path
) -> None:
    """`compress bench bundle/model.onnx --backend tensorrt`: the engine takes batches of 2 only, as its ONNX
    does, but was fed val batches of 64 and timed at 1 and 16 (only onnxruntime rows were cut to size).
    The engine is played by onnxruntime on the same static file, which refuses other batches just as well."""
    from compressor.data import load_dataset
    from compressor.data.base import deterministic_subset
    from compressor.measurement import variants as measure
    from compressor.measurement.footprint import Footprint
    from compressor.models.loading import load_model
    from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner

    class StandInEngine(OnnxRuntimeRunner):
        backend = "tensorrt"

    static = tmp_path / "static.onnx"
    make_static(tiny_onnx, static, 2, (3, 64, 64))
    bundle = load_dataset("shapes")
    handle = load_model(str(static), bundle)
    monkeypatch.setattr(measure, "make_runner", lambda handle, backend, device: StandInEngine(handle.onnx_path))
    val = deterministic_subset(bundle.split("val", handle.input_spec), 33)
    variant = measure.Variant("baseline", "fp32", {"tensorrt": handle})
    rows = measure._measure_on_backend(variant, handle, "tensorrt", Footprint(1.0, None, None), val, "cpu", [1, 16])
    assert [row.batch_size for row in rows] == [2] and 0.0 <= rows[0].metrics["top1"] <= 1.0


def test_without_tensorrt_the_export_says_which_extra_to_install(
    cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # noqa: ANN001
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # `import tensorrt` fails, as on this CI machine
    result = cli.invoke(
        app, ["export", "tiny_cnn", "--weights", "random", "--format", "tensorrt", "-o", str(tmp_path / "m.engine")]
    )
    assert result.exit_code == 2 and "compressor[tensorrt]" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_bench_without_tensorrt_warns_of_no_rows_without_saying_it_builds(
    tiny_onnx: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    handle = read_onnx_handle(str(tiny_onnx))
    assert engine_artifact(handle, tmp_path / "fp32.engine", "fp32", tmp_path / "cache", [1, 16]) is None
    said = capsys.readouterr().err
    assert "no TensorRT rows" in said and "compressor[tensorrt]" in said and "building" not in said


def test_the_tensorrt_backend_on_cpu_is_refused_before_any_export(cli) -> None:  # noqa: ANN001
    """Was an ONNX export, a warning, then "none of the backends tensorrt could run on cpu"."""
    result = cli.invoke(app, ["bench", "tiny_cnn", "--weights", "random", "--backend", "tensorrt"])
    assert result.exit_code == 2 and "add --device cuda" in result.output
    assert "parity" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_TENSORRT, reason="needs TensorRT and a CUDA GPU; this machine has neither")
def test_real_engine_matches_onnxruntime(tmp_path: Path) -> None:
    from compressor.runtime.tensorrt_runner import TensorRTRunner

    record = commands.export_tensorrt("tiny_cnn", tmp_path / "m.engine", weights="random")
    runner = TensorRTRunner(tmp_path / "m.engine")
    inputs = torch.randn(4, 3, 64, 64)
    expected = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": inputs.numpy()})[0]
    np.testing.assert_allclose(runner.run([inputs])[0].numpy(), expected, atol=1e-3)
    assert record.gpu == torch.cuda.get_device_name() and record.extra["parity_vs_onnx"]["agreement"] == 1.0


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_TENSORRT, reason="needs TensorRT and a CUDA GPU; this machine has neither")
def test_real_engine_takes_larger_batches_in_chunks_and_refuses_a_shape_outside_its_profile(
    tiny_onnx: Path, tmp_path: Path
) -> None:
    """What the stand-in's context claims of TensorRT's: set_input_shape false outside the profile."""
    build_engine(tiny_onnx, tmp_path / "m.engine", "fp32", BatchProfile(1, 2, 4))
    runner = TensorRTRunner(tmp_path / "m.engine")
    inputs = torch.randn(10, 3, 64, 64)
    expected = ort.InferenceSession(str(tiny_onnx)).run(None, {"input": inputs.numpy()})[0]
    np.testing.assert_allclose(runner.run([inputs])[0].numpy(), expected, atol=1e-3)
    with pytest.raises(InputFileError, match="takes shapes from"):
        runner.run_on_device(runner.to_device([inputs[:8]]))
    runner.close()


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_TENSORRT, reason="needs TensorRT and a CUDA GPU; this machine has neither")
def test_bench_on_cuda_has_tensorrt_rows() -> None:
    report = commands.bench("tiny_cnn", weights="random", device="cuda", batch_sizes=[1, 8], max_samples=256)
    assert {(r.backend, r.precision) for r in report.results} >= {("tensorrt", "fp32"), ("tensorrt", "fp16")}


def test_an_output_sized_by_the_data_is_read_from_the_memory_tensorrt_asked_for() -> None:
    """A detector's boxes after NMS have no size before the engine runs (the runner made a tensor of shape
    -1 and failed); TensorRT asks the allocator for memory while running, then reports the shape. These are
    its calls, as TensorRT 10 makes them."""
    stand_in = types.SimpleNamespace(IOutputAllocator=type("IOutputAllocator", (), {"__init__": lambda self: None}))
    allocator = output_allocator(stand_in, device="cpu")
    address = allocator.reallocate_output_async("boxes", 0, 3 * 4 * 4, 256, 0)
    assert address == allocator.buffer.data_ptr() != 0
    allocator.buffer.view(torch.float32)[:] = torch.arange(12.0)  # what the engine writes there
    allocator.notify_shape("boxes", (1, 3, 4))
    assert torch.equal(allocator.tensor(torch.float32), torch.arange(12.0).reshape(1, 3, 4))
    assert allocator.reallocate_output_async("boxes", address, 2 * 4 * 4, 256, 0) == address  # fewer: kept
    allocator.notify_shape("boxes", (1, 0, 4))  # nothing found: zero bytes, an empty tensor
    assert allocator.tensor(torch.float32).shape == (1, 0, 4)
    assert allocator.reallocate_output_async("boxes", address, 400, 256, 0) != 0 and allocator.buffer.numel() == 400


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_TENSORRT, reason="needs TensorRT and a CUDA GPU; this machine has neither")
def test_real_engine_output_sized_by_the_data(tmp_path: Path) -> None:
    from compressor.runtime.tensorrt_runner import TensorRTRunner

    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("NonZero", ["x"], ["where"])],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 8])],
        [onnx.helper.make_tensor_value_info("where", onnx.TensorProto.INT64, [2, "found"])],
    )
    path = tmp_path / "nonzero.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), str(path))
    build_engine(path, tmp_path / "nonzero.engine", "fp32", BatchProfile(1, 1, 2))
    runner = TensorRTRunner(tmp_path / "nonzero.engine")
    (where,) = runner.run([torch.tensor([[0.0, 1, 0, 2, 0, 0, 3, 0]])])
    assert where.tolist() == [[0, 0, 0], [1, 3, 6]]
    (where,) = runner.run([torch.zeros(1, 8)])
    assert where.shape == (2, 0)


def test_an_engine_is_built_from_an_onnx_file_from_elsewhere(recorder: StandInTensorRT, tmp_path: Path) -> None:
    """The file as it is, under its own input name, framed as its ONNX image metadata says (it was refused)."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    model.append(torch.nn.Linear(4, 10))
    path = tmp_path / "theirs.onnx"
    example = (torch.zeros(1, 3, 64, 64),)
    torch.onnx.export(model.eval(), example, str(path), dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "n"}})
    described = onnx.load(str(path))
    onnx.helper.set_model_props(described, {"Image.NominalPixelRange": "Normalized_1_1"})
    onnx.save(described, str(path))
    record = commands.export_tensorrt(str(path), tmp_path / "m.engine", TensorRT(opt_batch=1, max_batch=4))
    assert ("shape", "x", [1, 3, 64, 64], [1, 3, 64, 64], [4, 3, 64, 64]) in recorder.calls
    assert record.extra["preprocessing"]["mean"] == [0.5] * 3 and record.onnx_sha256 == sha256_of(path)
    # --max-batch 4: the parity check's 32 val samples reach the engine in batches it takes
    assert record.extra["parity_vs_onnx"]["samples"] == 32 and not recorder.refused


def test_the_runner_splits_batches_at_the_profile_s_maximum_and_never_sends_a_refused_shape(
    recorder: StandInTensorRT, tiny_onnx: Path, tmp_path: Path
) -> None:
    """TensorRT's `set_input_shape` returns false outside the profile (the runner ignored it and ran at a
    stale shape): 10 samples go to an engine of batches 1..4 as 4, 4 and 2, on a stream of the runner's
    own (not the legacy default stream, handle 0)."""
    build_engine(tiny_onnx, tmp_path / "m.engine", "fp32", BatchProfile(1, 2, 4))
    runner = TensorRTRunner(tmp_path / "m.engine")
    inputs = torch.randn(10, 3, 64, 64)
    expected = ort.InferenceSession(str(tiny_onnx)).run(None, {"input": inputs.numpy()})[0]
    (logits,) = runner.run([inputs])
    np.testing.assert_allclose(logits.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert runner.max_batch == 4 and not recorder.refused
    assert len(recorder.streams) == 3 and 0 not in recorder.streams
    with pytest.raises(InputFileError, match=r"takes shapes from \(1, 3, 64, 64\) to \(4, 3, 64, 64\)"):
        runner.run_on_device(runner.to_device([inputs[:8]]))  # placed for timing: never split, refused
    assert recorder.refused == [("input", (8, 3, 64, 64))]
    runner.close()


def test_bench_scores_the_full_val_split_on_engines_smaller_than_its_batches(
    recorder: StandInTensorRT, cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # noqa: ANN001
    """`compress bench --device cuda --batch-sizes 1,8` builds engines of batches 1..8, then scores in
    batches of 64: every shape sent must fit the profile (the stand-in refuses any other, as TensorRT does)."""
    from compressor.data import load_dataset
    from compressor.models.loading import load_model

    report = tmp_path / "r.json"
    args = ["bench", "tiny_cnn", "--weights", "random", "--device", "cuda", "--backend", "tensorrt"]
    result = cli.invoke(app, [*args, "--batch-sizes", "1,8", "--json", str(report)])
    assert result.exit_code == 0, result.output
    written = json.loads(report.read_text())
    rows = {(row["precision"], row["batch_size"]) for row in written["results"]}
    assert rows == {("fp32", 1), ("fp32", 8), ("fp16", 1), ("fp16", 8)} and not recorder.refused
    bundle = load_dataset("shapes")
    full = len(bundle.split("val", load_model("tiny_cnn", bundle, weights="random").input_spec))
    assert written["dataset"]["samples"] == full > 64
    assert ("shape", "input", [1, 3, 64, 64], [8, 3, 64, 64], [8, 3, 64, 64]) in recorder.calls


def test_an_image_onnx_with_dynamic_height_and_width_gets_its_input_size_in_the_profile(
    recorder: StandInTensorRT, tmp_path: Path
) -> None:
    """Every dynamic axis after the batch got 1..128, a text length: an image ONNX with dynamic height and
    width could then not run at 224. They take the model's input size (an ONNX from elsewhere: --image-size)."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 10, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    path = tmp_path / "theirs.onnx"  # 10 classes, as shapes has
    axes = {"x": {0: "n", 2: "h", 3: "w"}}
    torch.onnx.export(
        model.eval(), (torch.zeros(1, 3, 64, 64),), str(path), dynamo=False, input_names=["x"], dynamic_axes=axes
    )
    record = commands.export_tensorrt(
        str(path), tmp_path / "m.engine", TensorRT(opt_batch=1, max_batch=4), image_size=(96, 96)
    )
    assert record.inputs["x"] == {"min": [1, 3, 96, 96], "opt": [1, 3, 96, 96], "max": [4, 3, 96, 96]}
    assert profile_shapes(path, BatchProfile(1, 2, 8), (3, 224, 224))["x"]["max"] == [8, 3, 224, 224]
    assert profile_shapes(path, BatchProfile(1, 2, 8), (3, 48, 192))["x"]["min"] == [1, 3, 48, 192]  # an OCR line
    with pytest.raises(ExportError, match="axis 2 of input 'x' is dynamic and its size is unknown"):
        profile_shapes(path, BatchProfile())


def test_a_timing_cache_from_another_device_is_replaced_with_a_warning(
    recorder: StandInTensorRT, tiny_onnx: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`set_timing_cache` returns false for a cache another GPU or TensorRT wrote; the record named it as
    used. Now the build starts a fresh one, says so, and the record says the timings were not reused."""
    cache = tmp_path / "timing.cache"
    cache.write_bytes(b"another GPU's timings")
    recorder.accepts_timing_caches = False
    record = build_engine(tiny_onnx, tmp_path / "m.engine", "fp32", timing_cache=cache)
    assert record.timing_cache_reused is False and "refused the timing cache" in capsys.readouterr().err
    assert cache.read_bytes() == b"timings"  # this build's own, written where the refused one was
    recorder.accepts_timing_caches = True
    assert build_engine(tiny_onnx, tmp_path / "m.engine", "fp32", timing_cache=cache).timing_cache_reused is True
    assert "refused" not in capsys.readouterr().err


def test_quantize_measures_int8_on_tensorrt_from_a_symmetric_int8_file(
    recorder: StandInTensorRT,
    cli,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    """`compress quantize --backend tensorrt`: both variants get engines; int8's is built from a file quantized
    the way TensorRT reads it, since the stand-in refuses onnxruntime's uint8 Q/DQ as TensorRT's parser does."""
    out = tmp_path / "q"
    args = ["quantize", "tiny_cnn", "--weights", "random", "--precision", "int8", "--no-tune-speed"]
    args += ["--calib-samples", "16", "--device", "cuda", "--backend", "tensorrt", "--batch-sizes", "1"]
    result = cli.invoke(app, [*args, "--max-samples", "64", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "report.json").read_text())["results"]
    assert {(row["variant"], row["precision"], row["backend"]) for row in rows} == {
        ("baseline", "fp32", "tensorrt"), ("int8", "int8", "tensorrt")
    }  # fmt: skip
    parsed = [Path(call[1]).name for call in recorder.calls if call[0] == "parsed"]
    assert "model.int8-tensorrt.onnx" in parsed and "model.int8.onnx" not in parsed


def test_tensorrt_refuses_onnxruntime_s_asymmetric_int8(recorder: StandInTensorRT, tmp_path: Path) -> None:
    from compressor.data import load_dataset
    from compressor.exporters.engines import engine_from_onnx
    from compressor.methods.quantize import Int8Request, quantize_onnx_int8
    from compressor.models.onnx_file import read_onnx_handle

    fp32 = commands.export("tiny_cnn", tmp_path / "m.onnx", weights="random")[0]
    request = Int8Request(tune_speed=False, calib_samples=16)
    int8 = quantize_onnx_int8(fp32, load_dataset("shapes"), request, tmp_path / "m.int8.onnx", tmp_path).handle
    with pytest.raises(ExportError, match="symmetric quantization only"):
        engine_from_onnx(read_onnx_handle(int8.onnx_path), tmp_path / "m.engine", "int8")


def test_cz_export_tensorrt_gives_a_model_the_tensorrt_backend_measures(
    recorder: StandInTensorRT, tmp_path: Path
) -> None:
    import compressor as cz

    data = cz.load_dataset("shapes")
    model = cz.load_model("tiny_cnn", data, weights="random")
    engine = cz.export(model, cz.TensorRT(precision="int8", max_batch=8, calib_samples=16), tmp_path / "m.engine", data)
    assert engine.onnx_path == tmp_path / "m.int8.onnx" and engine.metadata["precision"] == "int8"
    report = cz.measure({"int8 engine": engine}, data, backends=["tensorrt"], device="cuda", batch_sizes=[1],
                        max_samples=32)  # fmt: skip
    assert [(row.variant, row.backend, row.precision) for row in report.results] == [
        ("int8 engine", "tensorrt", "int8")
    ]


def test_a_dynamic_graph_gets_a_profile_even_of_one_batch_size(
    recorder: StandInTensorRT, tiny_onnx: Path, tmp_path: Path
) -> None:
    """TensorRT builds no engine of a network with dynamic inputs and no optimisation profile, even where
    the profile would hold one shape (`--batch-sizes 1`); the stand-in refuses it the same way."""
    build_engine(tiny_onnx, tmp_path / "m.engine", "fp32", BatchProfile(1, 1, 1))
    assert ("shape", "input", [1, 3, 64, 64], [1, 3, 64, 64], [1, 3, 64, 64]) in recorder.calls
