"""CUDA rows of `compress bench`. Skipped without a GPU (CI has none); run on a GPU machine."""

import pytest
import torch

from compressor import api

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; this machine has none"),
]


def test_bench_on_cuda_reports_cuda_rows() -> None:
    report = api.bench(
        "tiny_cnn", weights="random", backends=["torch"], device="cuda", batch_sizes=[1, 8], max_samples=256
    )
    assert {row.device for row in report.results} == {"cuda"}
    assert report.environment["gpu"]
    for row in report.results:
        assert row.latency_ms.p50 > 0 and row.peak_memory_mb is not None and row.peak_memory_mb > 0


def test_cuda_and_cpu_agree_on_accuracy() -> None:
    cpu = api.bench("tiny_cnn", weights="random", backends=["torch"], batch_sizes=[1], max_samples=256)
    cuda = api.bench("tiny_cnn", weights="random", backends=["torch"], device="cuda", batch_sizes=[1], max_samples=256)
    assert abs(cpu.results[0].metrics["top1"] - cuda.results[0].metrics["top1"]) <= 0.004


def test_bench_on_cuda_adds_half_precision_torch_rows() -> None:
    report = api.bench(
        "tiny_cnn", weights="random", backends=["torch"], device="cuda", batch_sizes=[8], max_samples=256
    )
    precisions = {row.precision for row in report.results if row.backend == "torch"}
    assert precisions == {"fp32", "fp16", "bf16"}
    top1 = {row.precision: row.metrics["top1"] for row in report.results}
    assert abs(top1["fp16"] - top1["fp32"]) <= 0.01
