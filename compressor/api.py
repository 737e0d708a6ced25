"""The library behind every CLI command: one public function per command, with the same options."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from compressor.data import DEFAULT_DATASET, DatasetBundle, load_dataset
from compressor.environment import collect_environment
from compressor.errors import InputFileError, ModelMismatchError, brief
from compressor.export.onnx import ParityResult, export_onnx
from compressor.measure import Variant, measure_variants
from compressor.models.checkpoint import save_checkpoint
from compressor.models.handle import ModelHandle
from compressor.models.loading import RANDOM_WEIGHTS, is_file_factory, load_model
from compressor.models.registry import ZooEntry, get_entry, is_zoo_name, list_entries
from compressor.progress import info
from compressor.report import DatasetInfo, Report
from compressor.runtime.torch_runner import check_device
from compressor.tasks import get_task
from compressor.train import TrainConfig, TrainResult, fit

PARITY_SAMPLES = 32


def list_models() -> list[ZooEntry]:
    return list_entries()


def train_handle(
    handle: ModelHandle, bundle: DatasetBundle, output: str | Path, epochs: int, config: TrainConfig | None = None
) -> TrainResult:
    """Train a torch handle on `bundle` and write a self-describing checkpoint to `output`."""
    assert handle.module is not None
    config = config or TrainConfig()
    config.epochs = epochs
    task = get_task(handle.task)
    result = fit(
        handle.module,
        task,
        bundle.split("train", handle.input_spec),
        bundle.split("val", handle.input_spec),
        handle.input_spec,
        config,
        description=f"train {handle.name}",
    )
    description = {
        **handle.describe(),
        "train": {
            "dataset": bundle.name,
            "dataset_fingerprint": bundle.fingerprint,
            "epochs": epochs,
            "best_epoch": result.best_epoch,
            task.primary_metric: result.best_metric,
            "seed": config.seed,
        },
    }
    save_checkpoint(output, handle.module.state_dict(), description)
    handle.weights = str(output)
    info(f"saved {output}: best val {task.primary_metric} {result.best_metric:.4f} at epoch {result.best_epoch}")
    return result


def train(
    model: str,
    output: str | Path,
    data: str = DEFAULT_DATASET,
    epochs: int = 5,
    image_size: tuple[int, int] | None = None,
    config: TrainConfig | None = None,
) -> tuple[ModelHandle, TrainResult]:
    """`compress train`: a zoo model or file factory from random weights to a checkpoint."""
    if not (is_zoo_name(model) or is_file_factory(model)):
        if Path(model).expanduser().exists():
            raise InputFileError(
                f"compress train builds a zoo model or file.py:factory from scratch; {model} is a trained model "
                "(checkpoint, .onnx or Hugging Face directory): bench or export it by path instead"
            )
        get_entry(model)  # an unknown name: the registry's error suggests close names
    bundle, handle = _load_torch_model(model, data, RANDOM_WEIGHTS, image_size, "training")
    return handle, train_handle(handle, bundle, output, epochs, config)


def _load_torch_model(
    model: str, data: str, weights: str | None, image_size: tuple[int, int] | None, purpose: str
) -> tuple[DatasetBundle, ModelHandle]:
    """The dataset and a torch model for it; an ONNX source is refused for `purpose`."""
    bundle = load_dataset(data)
    handle = load_model(model, bundle, weights=weights, image_size=image_size)
    if handle.module is None:
        raise InputFileError(f"{model} is an ONNX model; {purpose} needs a torch model")
    _check_input_size(handle)
    return bundle, handle


def _parity_batch(handle: ModelHandle, bundle: DatasetBundle) -> list[torch.Tensor]:
    """A real val batch for the export parity check (random inputs hide saturation and NaN issues)."""
    task = get_task(handle.task)
    loader = DataLoader(
        bundle.split("val", handle.input_spec),
        batch_size=PARITY_SAMPLES,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        collate_fn=task.collate,
    )
    inputs, _ = task.prepare_batch(next(iter(loader)), handle.input_spec)
    return inputs


def _check_input_size(handle: ModelHandle) -> None:
    """Fail early, in words, when the model cannot take the data's images."""
    if handle.module is None:
        return
    try:
        with torch.no_grad():
            handle.module.eval()(*get_task(handle.task).example_inputs(handle.input_spec, 1))
    except RuntimeError as error:
        raise ModelMismatchError(
            f"{handle.name} cannot take input of shape {handle.input_spec.shape}: {brief(error)}"
        ) from error


def export(
    model: str,
    output: str | Path,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    image_size: tuple[int, int] | None = None,
    opset: int | None = None,
) -> tuple[ModelHandle, ParityResult]:
    """`compress export --format onnx`: a checked ONNX file with parity against torch in its metadata."""
    bundle, handle = _load_torch_model(model, data, weights, image_size, "export")
    extra = {"opset": opset} if opset is not None else {}
    return export_onnx(handle, output, parity_inputs=_parity_batch(handle, bundle), **extra)


def bench(
    model: str,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    backends: list[str] | None = None,
    device: str = "cpu",
    batch_sizes: list[int] | None = None,
    max_samples: int | None = None,
    image_size: tuple[int, int] | None = None,
    workdir: str | Path | None = None,
) -> Report:
    """`compress bench`: accuracy, latency, throughput, memory and size of one model on each backend."""
    backends = backends or ["torch", "onnxruntime"]
    batch_sizes = batch_sizes or [1, 16]
    check_device(device)
    bundle = load_dataset(data)
    handle = load_model(model, bundle, weights=weights, image_size=image_size)
    _check_input_size(handle)
    with tempfile.TemporaryDirectory(prefix="compressor-bench-") as scratch:
        artifacts: dict[str, ModelHandle] = {}
        if handle.module is not None:
            artifacts["torch"] = handle
            if "onnxruntime" in backends:
                onnx_dir = Path(workdir) if workdir is not None else Path(scratch)
                info("exporting to ONNX for the onnxruntime rows")
                artifacts["onnxruntime"], parity = export_onnx(
                    handle, onnx_dir / "baseline.onnx", parity_inputs=_parity_batch(handle, bundle)
                )
                info(f"ONNX parity: {parity.summary()}")
        else:
            artifacts["onnxruntime"] = handle
        rows, samples = measure_variants(
            [Variant("baseline", "fp32", artifacts)], bundle, backends, device, batch_sizes, max_samples
        )
    task = get_task(handle.task)
    return Report(
        model=handle.name,
        task=handle.task,
        primary_metric=task.primary_metric,
        dataset=DatasetInfo(name=bundle.name, split="val", samples=samples),
        environment=collect_environment(),
        results=rows,
        notes=[
            f"weights: {handle.weights}",
            "latency: per batch after warm-up; fps: samples per second over the timed loop",
            "peak_memory_mb: on CPU, growth of process RSS while the backend loads the model and runs it; "
            "on CUDA, peak bytes allocated by torch",
            "size_mb: weights bytes for torch rows, file size for ONNX rows; macs per sample (torch-pruning's counter)",
            *([task.measurement_note] if task.measurement_note else []),
        ],
    )


__all__ = ["bench", "export", "get_entry", "list_models", "train", "train_handle"]
