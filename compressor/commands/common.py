"""What the commands share: a torch model loaded for one, OUTDIR checks, the baseline's artifacts, variants
measured side by side, and the report written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from compressor.core.errors import InputFileError
from compressor.core.files import make_folder
from compressor.core.handle import ModelHandle
from compressor.core.progress import info, warn
from compressor.data import DatasetBundle, load_dataset
from compressor.exporters.onnx import export_onnx, parity_batch
from compressor.measurement.variants import SideBySide, build_report
from compressor.models.precision import require_full_precision
from compressor.report.files import write_report
from compressor.report.schema import Report
from compressor.report.verdict import Fastest, speed_verdicts
from compressor.tasks import get_task
from compressor.training.checkpoints import load_or_train


def load_torch_model(
    model: str,
    data: str,
    weights: str | None,
    image_size: tuple[int, int] | None,
    purpose: str,
    fit: str | None = None,
) -> tuple[DatasetBundle, ModelHandle]:
    """The dataset and a torch model for it; an ONNX source is refused for `purpose`."""
    bundle = load_dataset(data)
    return bundle, torch_model(model, bundle, weights, image_size, purpose, fit)


def torch_model(
    model: str,
    bundle: DatasetBundle,
    weights: str | None,
    image_size: tuple[int, int] | None,
    purpose: str,
    fit: str | None = None,
) -> ModelHandle:
    """An fp32 torch model for `bundle`; an ONNX source or fp16/bf16 weights are refused for `purpose`."""
    handle = load_or_train(model, bundle, weights=weights, image_size=image_size, fit=fit)
    if handle.module is None:
        raise InputFileError(f"{model} is an ONNX model; {purpose} needs a torch model")
    require_full_precision(handle, purpose)
    return handle


def refuse_earlier_results(output_dir: Path, force: bool, marker: str = "report.json") -> None:
    """Refuse to overwrite an earlier run's results unless asked: an hour of work is easy to lose. Checked
    before anything slow (a reference checkpoint's training) as well as just before writing."""
    if output_dir.exists() and not output_dir.is_dir():
        raise InputFileError(f"{output_dir} is a file; -o takes a directory")
    if (output_dir / marker).exists() and not force:
        raise InputFileError(f"{output_dir} already holds results ({marker}); pass --force to overwrite them")


def refuse_existing_file(output: Path, force: bool) -> None:
    """A file export (ONNX, engine) replaces an earlier file only when asked, as `train` does its checkpoint;
    checked before anything loads, so a directory given as -o is not found only after the export."""
    if output.is_dir():
        raise InputFileError(f"{output} is a directory; -o takes a file name here (e.g. {output}/model.onnx)")
    if output.exists() and not force:
        raise InputFileError(f"{output} already exists; pass --force to overwrite it")


def prepare_output_dir(output_dir: Path, force: bool, marker: str = "report.json") -> None:
    """OUTDIR, made once every input has been checked (a failed start leaves no empty folder behind)."""
    refuse_earlier_results(output_dir, force, marker)
    make_folder(output_dir)


def baseline_artifacts(
    handle: ModelHandle, bundle: DatasetBundle, with_onnx: bool, onnx_path: Path
) -> dict[str, ModelHandle]:
    """The artifact for each backend: the torch model itself and its ONNX export (or the given .onnx).
    Used for baselines and for every torch variant (pruned, distilled) alike."""
    if handle.module is None:
        return {"onnxruntime": handle}
    artifacts = {"torch": handle}
    if with_onnx:
        info(f"exporting {handle.name} to {onnx_path.name} for the onnxruntime rows")
        artifacts["onnxruntime"], parity = export_onnx(handle, onnx_path, parity_inputs=parity_batch(handle, bundle))
        info(f"ONNX parity: {parity.summary()}")
    return artifacts


def profile_inputs(handle: ModelHandle, batch_size: int) -> list[torch.Tensor]:
    """Example inputs to profile on: `batch_size` samples, or the task's fixed batch (detectors: 1)."""
    task = get_task(handle.task)
    return task.example_inputs(handle.input_spec, task.fixed_batch_size or batch_size)


def write_compared(
    handle: ModelHandle,
    bundle: DatasetBundle,
    measured: SideBySide,
    output_dir: Path,
    extra: dict[str, Any],
    notes: list[str] | None = None,
    accuracy_budget: float | None = None,
) -> Report:
    """The report of a baseline-vs-compressed run: verdicts said aloud (warned when not faster), the fastest
    row within `accuracy_budget` named where several backends ran, and written."""
    rows, samples = measured.rows, measured.samples
    verdicts = speed_verdicts(rows, measured.reference, measured.head_to_head)
    for verdict in verdicts:
        (info if verdict.faster else warn)(verdict.sentence())
    report = build_report(
        handle,
        bundle,
        rows,
        samples,
        accuracy_budget,
        measured.reference,
        verdicts=[v.model_dump() for v in verdicts],
        **extra,
    )
    for fastest in (report.model_extra or {}).get("fastest") or []:
        info(Fastest.model_validate(fastest).sentence(report.primary_metric))
    report.notes += (notes or []) + [verdict.sentence() for verdict in verdicts]
    write_report(report, output_dir / "report.json", output_dir / "report.md")
    return report
