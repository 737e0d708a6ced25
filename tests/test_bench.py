"""compress bench through the library: the report contract, and torch vs onnxruntime agreement."""

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from compressor import commands
from compressor.measurement.footprint import weight_count
from compressor.measurement.timing import OtherProcessesCpu, build_and_measure_memory
from compressor.report.files import write_report
from compressor.report.schema import SCHEMA, ResultRow, read_report, to_markdown

ROW_KEYS = {
    "variant",
    "precision",
    "backend",
    "device",
    "batch_size",
    "artifact",
    "metrics",
    "latency_ms",
    "fps",
    "size_mb",
    "params",
    "macs",
    "peak_memory_mb",
}


@pytest.fixture(scope="module")
def report(trained_tiny: Path):
    return commands.bench(str(trained_tiny), data="shapes", backends=["torch", "onnxruntime"], batch_sizes=[1, 4])


def test_report_contract(report, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_report(report, path, tmp_path / "r.md")
    import json

    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA
    assert {"model", "task", "primary_metric", "dataset", "environment", "results"} <= set(data)
    assert data["dataset"] == {"name": "shapes", "split": "val", "samples": 2000}
    assert {"cpu", "gpu", "torch", "onnxruntime", "tensorrt"} <= set(data["environment"])
    assert len(data["results"]) == 4  # 2 backends x 2 batch sizes
    for row in data["results"]:
        assert set(row) >= ROW_KEYS
        assert 0.0 <= row["metrics"]["top1"] <= 1.0
        assert row["latency_ms"]["p50"] <= row["latency_ms"]["p90"] <= row["latency_ms"]["p99"]
        assert row["fps"] > 0 and row["params"] > 0 and row["macs"] > 0
        assert 0.0 <= row["background_cpu"] <= 1.0
        assert "cuda_graph_latency_ms" not in row  # a CUDA-only timing
    assert read_report(path).results[0].variant == "baseline"
    assert "| baseline |" in (tmp_path / "r.md").read_text()


def test_torch_and_onnxruntime_agree_on_accuracy(report) -> None:
    top1 = {row.backend: row.metrics["top1"] for row in report.results}
    assert top1["torch"] > 0.2  # trained, not random (10 classes)
    assert abs(top1["torch"] - top1["onnxruntime"]) <= 0.002


def test_same_model_same_footprint_on_both_backends(report) -> None:
    torch_row = next(r for r in report.results if r.backend == "torch")
    onnx_row = next(r for r in report.results if r.backend == "onnxruntime")
    assert torch_row.params == onnx_row.params and torch_row.macs == onnx_row.macs
    assert onnx_row.artifact == "baseline.onnx"


def test_an_onnx_files_params_are_its_weights_not_its_quantization_scales() -> None:
    """A per-channel int8 weight carries a scale and a zero point per output channel: they were counted."""
    initializers = [
        numpy_helper.from_array(np.ones((4, 3), np.int8), "w_q"),
        numpy_helper.from_array(np.ones(4, np.float32), "w_scale"),
        numpy_helper.from_array(np.zeros(4, np.int8), "w_zero"),
        numpy_helper.from_array(np.zeros(4, np.float32), "bias"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], axis=0),
        helper.make_node("Gemm", ["x", "w", "bias"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializers,
    )
    assert weight_count(graph) == 4 * 3 + 4


def test_a_cuda_graph_latency_gets_its_own_column_of_p50s(report) -> None:
    rows = [row.model_copy(deep=True) for row in report.results]
    graphed = ResultRow.model_validate(
        {**rows[0].model_dump(), "cuda_graph_latency_ms": {"p50": 0.123, "p90": 0.2, "p99": 0.3}}
    )
    lines = to_markdown(report.model_copy(update={"results": [graphed, *rows[1:]]})).splitlines()
    header = [cell.strip() for cell in lines[2].strip("|").split("|")]
    column = header.index("CUDA graph p50 ms")
    assert [line.strip("|").split("|")[column].strip() for line in lines[4:6]] == ["0.12", "-"]
    assert "CUDA graph" not in to_markdown(report)  # CPU rows have none, nor their notes
    assert not any(note.startswith("cuda_graph_latency_ms") for note in report.notes)


def test_onnx_file_is_benchmarked_directly(tmp_path: Path, trained_tiny: Path) -> None:
    onnx_path = tmp_path / "tiny.onnx"
    commands.export(str(trained_tiny), onnx_path)
    report = commands.bench(str(onnx_path), backends=["onnxruntime"], batch_sizes=[2], max_samples=200)
    assert [row.backend for row in report.results] == ["onnxruntime"]
    assert report.dataset.samples == 200
    assert "tiny_cnn" in to_markdown(report)
    # the torch model's params and MACs, recorded at export (MACs were "-" for a file benchmarked alone)
    torch_row = commands.bench(str(trained_tiny), backends=["torch"], batch_sizes=[2], max_samples=20).results[0]
    assert (report.results[0].params, report.results[0].macs) == (torch_row.params, torch_row.macs)
    assert torch_row.macs is not None and torch_row.macs > 0


def test_other_processes_cpu_sees_busy_neighbours() -> None:
    """One spinning process per core while this one sleeps: nearly the whole machine is someone else's."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        time.sleep(0.5)  # let them start
        with OtherProcessesCpu() as busy:
            time.sleep(1.0)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert busy.share > 0.6


class _FakeCpuTimes:
    """psutil.cpu_times()'s shape: a namedtuple of per-state seconds."""

    def __init__(self, **seconds: float) -> None:
        self.seconds = seconds

    def _asdict(self) -> dict[str, float]:
        return dict(self.seconds)


def test_other_processes_cpu_sees_an_idle_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only this process worked (0.4 s) while the rest of the machine idled: nobody else's share.
    Scripted counters, as a real idle machine cannot be had on a shared CI runner; a share that
    always read busy (1.0) would pass the busy test alone."""
    from compressor.measurement import timing as bench

    machine = iter([_FakeCpuTimes(user=100.0, system=20.0, idle=900.0, iowait=5.0),
                    _FakeCpuTimes(user=100.3, system=20.1, idle=901.5, iowait=5.2)])  # fmt: skip
    own = iter([(10.0, 2.0), (10.3, 2.1)])

    class FakeProcess:
        def cpu_times(self) -> SimpleNamespace:
            user, system = next(own)
            return SimpleNamespace(user=user, system=system)

    monkeypatch.setattr(bench.psutil, "cpu_times", lambda: next(machine))
    monkeypatch.setattr(bench.psutil, "Process", FakeProcess)
    with OtherProcessesCpu() as idle:
        time.sleep(0.05)
    assert idle.share == pytest.approx(0.0, abs=1e-9)


def test_profile_breaks_the_onnx_time_down_by_op_type(tmp_path: Path, trained_tiny: Path) -> None:
    from typer.testing import CliRunner

    from compressor.cli import app

    out = tmp_path / "r.json"
    args = ["bench", str(trained_tiny), "--backend", "onnxruntime", "--batch-sizes", "4", "--max-samples", "50"]
    result = CliRunner().invoke(app, [*args, "--profile", "--json", str(out)])
    assert result.exit_code == 0, result.output
    op_times = read_report(out).model_extra["op_time_ms"]  # type: ignore[index]
    assert op_times["batch_size"] == 4 and op_times["baseline"]
    assert {"Conv", "FusedConv"} & set(op_times["baseline"]) and all(ms > 0 for ms in op_times["baseline"].values())
    assert "kernel time at batch 4, ms per run by op type: " in result.stderr
    refused = CliRunner().invoke(app, [*args[:2], "--backend", "torch", "--profile"])
    assert refused.exit_code == 2 and "--profile" in refused.stderr and "Traceback" not in refused.output


class _Device:
    """torch.cuda's memory counters for a runtime that allocates on its own, as TensorRT does."""

    def __init__(self) -> None:
        self.torch_allocated = self.torch_peak = 0
        self.torch_reserved = 2_000_000
        self.free = 80_000_000_000

    def allocate_in_torch(self, size: int) -> None:
        self.torch_allocated += size
        self.torch_peak = max(self.torch_peak, self.torch_allocated)
        self.torch_reserved += size
        self.free -= size

    def patch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import torch

        for name, value in {
            "synchronize": lambda: None,
            "reset_peak_memory_stats": lambda: setattr(self, "torch_peak", self.torch_allocated),
            "memory_allocated": lambda: self.torch_allocated,
            "max_memory_allocated": lambda: self.torch_peak,
            "memory_reserved": lambda: self.torch_reserved,
            "mem_get_info": lambda: (self.free, 80_000_000_000),
        }.items():
            monkeypatch.setattr(torch.cuda, name, value)


@pytest.mark.parametrize(("backend", "expected_mb"), [("tensorrt", 104.0), ("torch", 4.0)])
def test_cuda_memory_counts_what_an_engine_takes_outside_torch(
    monkeypatch: pytest.MonkeyPatch, backend: str, expected_mb: float
) -> None:
    """TensorRT's engine and activation memory is not torch's: its rows showed only their input and output
    tensors. A torch row counts torch's allocations only (the 100 MB outside stand for the kernels CUDA
    libraries load on first use, which are not the model's)."""
    import types

    device = _Device()
    device.patch(monkeypatch)
    device.allocate_in_torch(2_000_000)  # an earlier row's tensors, still held: not this row's

    def build() -> object:
        device.free -= 100_000_000  # allocated by the runtime itself, outside torch
        device.allocate_in_torch(4_000_000)  # input and output tensors
        runner = types.SimpleNamespace(backend=backend, to_device=lambda inputs: inputs, synchronize=lambda: None)
        runner.run_on_device = lambda placed: None
        return runner

    _runner, peak_mb = build_and_measure_memory(build, [], "cuda")
    assert peak_mb == pytest.approx(expected_mb)
