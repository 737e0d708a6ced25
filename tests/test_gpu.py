"""CUDA rows of `compress bench`. Skipped without a GPU (CI has none); run on a GPU machine.

The precision comparisons use a trained model and compare logits: a random tiny_cnn predicts one class
for every sample, so top-1 agreement holds for it whatever the device or dtype computes. The comparison
helper itself runs on CPU too (bf16 against fp32, and against a deliberately perturbed model)."""

from pathlib import Path
from typing import TypeVar

import pytest
import torch
from torch import nn

from compressor import commands
from compressor.data import load_dataset
from compressor.data.base import deterministic_subset
from compressor.models.checkpoint import read_checkpoint
from compressor.models.loading import load_model
from compressor.runtime.cuda_graph import CudaGraphRunner
from compressor.runtime.torch_runner import TorchRunner
from compressor.tasks import get_task
from compressor.training.checkpoints import load_or_train
from compressor.training.fit import TrainConfig

T = TypeVar("T")

_needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; this machine has none")


def gpu(test: T) -> T:
    """The tests that need CUDA: marked `gpu` and skipped without one (the helper's CPU test is neither)."""
    return pytest.mark.gpu(_needs_cuda(test))


# Largest logit difference allowed, as a share of the fp32 logits' largest magnitude: TF32 convolutions
# (cuDNN's default) and a 10-bit (fp16) or 7-bit (bf16) mantissa through a few layers. Measured on CPU for the
# trained tiny_cnn: fp16 0.0011, bf16 0.018; logits 10% off (top-1 unchanged) are 0.09 off.
LOGIT_TOLERANCE = {torch.float32: 0.01, torch.float16: 0.01, torch.bfloat16: 0.05}
# Share of samples whose top-1 must match fp32 (near-ties may flip in fewer mantissa bits).
TOP1_AGREEMENT = {torch.float32: 0.98, torch.float16: 0.98, torch.bfloat16: 0.95}


def _val_batch(handle_name: str, samples: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """`samples` val images of shapes as the model takes them, and their labels."""
    handle = load_or_train(handle_name, load_dataset("shapes"))
    task = get_task(handle.task)
    val = deterministic_subset(load_dataset("shapes").split("val", handle.input_spec), samples)
    inputs, labels = task.prepare_batch(task.collate([val[i] for i in range(len(val))]), handle.input_spec)
    return inputs[0], labels


def assert_not_degenerate(logits: torch.Tensor, labels: torch.Tensor) -> None:
    """The reference model separates the classes: else any precision agrees with it on top-1."""
    predicted = logits.argmax(dim=1)
    chance = 1 / logits.shape[1]
    assert len(predicted.unique()) >= 3, f"the reference predicts only {predicted.unique().tolist()}"
    assert (predicted == labels).float().mean() > 2 * chance


def assert_same_outputs(
    module: nn.Module, other: nn.Module, images: torch.Tensor, labels: torch.Tensor, device: str, dtype: torch.dtype
) -> None:
    """`other` run on `device` in `dtype` gives `module`'s fp32 CPU logits, within `dtype`'s tolerance."""
    reference = TorchRunner(module, "cpu").run([images])[0]
    assert_not_degenerate(reference, labels)
    candidate = TorchRunner(other, device, None if dtype == torch.float32 else dtype).run([images])[0]
    assert candidate.dtype == torch.float32 and candidate.shape == reference.shape
    worst = (candidate - reference).abs().max().item() / reference.abs().max().item()
    assert worst <= LOGIT_TOLERANCE[dtype], f"logits differ by {worst:.4f} of their scale"
    agreement = (candidate.argmax(dim=1) == reference.argmax(dim=1)).float().mean().item()
    assert agreement >= TOP1_AGREEMENT[dtype]


@pytest.fixture(scope="module")
def trained_module(trained_tiny: Path) -> nn.Module:
    return load_model(str(trained_tiny), load_dataset("shapes")).module.eval()


def test_the_comparison_catches_a_changed_model_and_a_degenerate_one(
    trained_module: nn.Module, trained_tiny: Path
) -> None:
    """On CPU: bf16 passes against fp32; a 10% change in the last layer, which keeps every top-1, does not;
    nor does a random model that answers one class for every image."""
    images, labels = _val_batch(str(trained_tiny))
    assert_same_outputs(trained_module, trained_module, images, labels, "cpu", torch.bfloat16)
    scaled = load_model(str(trained_tiny), load_dataset("shapes")).module.eval()
    last = [m for m in scaled.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        last.weight *= 1.1
        last.bias *= 1.1
    with pytest.raises(AssertionError, match="logits differ"):
        assert_same_outputs(trained_module, scaled, images, labels, "cpu", torch.bfloat16)
    untrained = load_model("tiny_cnn", load_dataset("shapes"), weights="random").module.eval()
    with pytest.raises(AssertionError, match="the reference predicts only"):
        assert_same_outputs(untrained, untrained, images, labels, "cpu", torch.float32)


@gpu
def test_bench_on_cuda_reports_cuda_rows() -> None:
    report = commands.bench(
        "tiny_cnn", weights="random", backends=["torch"], device="cuda", batch_sizes=[1, 8], max_samples=256
    )
    assert {row.device for row in report.results} == {"cuda"}
    assert report.environment["gpu"]
    for row in report.results:
        assert row.latency_ms.p50 > 0 and row.peak_memory_mb is not None and row.peak_memory_mb > 0
        assert row.model_extra["cuda_graph_latency_ms"]["p50"] > 0
    assert any(note.startswith("cuda_graph_latency_ms:") for note in report.notes)


@gpu
def test_a_cuda_graph_replays_the_model_on_each_new_batch() -> None:
    handle = load_model("tiny_cnn", load_dataset("shapes"), weights="random")
    eager = TorchRunner(handle.module, "cuda")
    first, second = torch.randn(4, *handle.input_spec.shape), torch.randn(4, *handle.input_spec.shape)
    graph = CudaGraphRunner(eager.module, eager.to_device([first]))
    for batch in (second, first):  # the captured example's outputs would not match the second batch
        replayed, expected = graph.run([batch])[0], eager.run([batch])[0]
        torch.testing.assert_close(replayed, expected, rtol=1e-4, atol=1e-5)


@gpu
def test_cuda_and_cpu_agree_on_accuracy(trained_module: nn.Module, trained_tiny: Path) -> None:
    images, labels = _val_batch(str(trained_tiny))
    assert_same_outputs(trained_module, trained_module, images, labels, "cuda", torch.float32)
    cpu = commands.bench(str(trained_tiny), backends=["torch"], batch_sizes=[1], max_samples=256)
    cuda = commands.bench(str(trained_tiny), backends=["torch"], device="cuda", batch_sizes=[1], max_samples=256)
    assert cpu.results[0].metrics["top1"] > 0.2  # a model that separates the classes (chance: 0.1)
    # a trained model has near-ties TF32 may flip: two of 256 samples (the logits above are the real check)
    assert abs(cpu.results[0].metrics["top1"] - cuda.results[0].metrics["top1"]) <= 2 / 256


@gpu
def test_bench_on_cuda_adds_half_precision_torch_rows(trained_module: nn.Module, trained_tiny: Path) -> None:
    report = commands.bench(str(trained_tiny), backends=["torch"], device="cuda", batch_sizes=[8], max_samples=256)
    precisions = {row.precision for row in report.results if row.backend == "torch"}
    assert precisions == {"fp32", "fp16", "bf16"}
    top1 = {row.precision: row.metrics["top1"] for row in report.results}
    assert top1["fp32"] > 0.2  # a model that separates the classes (chance: 0.1)
    assert abs(top1["fp16"] - top1["fp32"]) <= 0.01
    images, labels = _val_batch(str(trained_tiny))
    for dtype in (torch.float16, torch.bfloat16):
        assert_same_outputs(trained_module, trained_module, images, labels, "cuda", dtype)


@gpu
@pytest.mark.parametrize("bf16", [True, False], ids=["bf16-autocast", "fp16-loss-scaling"])
def test_mixed_precision_training_on_cuda_learns_and_saves_float32(
    bf16: bool, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GPUs without bf16 train in fp16 with a GradScaler; pretending so runs that path on any GPU
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    path = tmp_path / "tiny.pt"
    _, result = commands.train("tiny_cnn", path, data="shapes", epochs=2, config=TrainConfig(lr=5e-3, device="cuda"))
    chance = 1 / len(load_dataset("shapes").class_names)
    assert result.best_metric > 2 * chance  # the CPU run of this recipe reaches 0.30 (chance: 0.10)
    weights = read_checkpoint(path).state_dict
    assert {tensor.dtype for tensor in weights.values() if tensor.is_floating_point()} == {torch.float32}
    assert all(tensor.device.type == "cpu" for tensor in weights.values())
