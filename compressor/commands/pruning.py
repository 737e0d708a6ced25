"""`compress prune`: the baseline and its pruned version(s) measured side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compressor.commands.common import (
    baseline_artifacts,
    load_torch_model,
    prepare_output_dir,
    refuse_earlier_results,
    write_compared,
)
from compressor.commands.pruning_report import UNSTRUCTURED_NOTE, annotate_rows, sweep_plot, sweep_summary
from compressor.core.progress import info, warn
from compressor.data import DEFAULT_DATASET
from compressor.exporters.engines import engine_artifacts
from compressor.measurement.variants import DEFAULT_BACKENDS, Variant, side_by_side
from compressor.methods.configs import Prune
from compressor.methods.prune import FINETUNE_LR_SCALE, check_prunable, prune_model, save_pruned
from compressor.methods.prune_options import sweep_requests
from compressor.report.schema import Report, ResultRow
from compressor.runtime.torch_runner import check_device
from compressor.tasks import get_task
from compressor.training.checkpoints import train_config


def prune(
    model: str,
    output_dir: str | Path,
    request: Prune | None = None,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    sweep: list[float] | None = None,
    sweep_by: str = "sparsity",
    lr: float | None = None,
    device: str = "cpu",
    batch_sizes: list[int] | None = None,
    max_samples: int | None = None,
    image_size: tuple[int, int] | None = None,
    fit: str | None = None,
    force: bool = False,
    seed: int = 0,
    backends: list[str] | None = None,
) -> Report:
    """`compress prune`: baseline and pruned model(s) measured side by side in one run, written to OUTDIR.
    `seed` seeds the fine-tuning (its batch order and augmentation); `backends`: where to measure (default
    torch and onnxruntime).

    With `sweep`, the model is pruned once per level (`sweep_by`: sparsity or threshold), each from
    the unpruned model, and the report adds a `sweep` block and sweep.png (accuracy against latency).
    """
    request = request or Prune()
    requests = sweep_requests(request, sweep, sweep_by) if sweep else [request]
    for each in requests:
        each.check()  # before the model loads (a reference checkpoint may need training)
    batch_sizes = batch_sizes or [1, 16]
    check_device(device)
    output_dir = Path(output_dir)
    refuse_earlier_results(output_dir, force)
    bundle, handle = load_torch_model(model, data, weights, image_size, "pruning", fit)
    for each in requests:
        check_prunable(handle, each)
    prepare_output_dir(output_dir, force)
    baseline = baseline_artifacts(handle, bundle, True, output_dir / "baseline.onnx")
    config = train_config(model, lr=lr, seed=seed)
    config.lr = lr or config.lr * FINETUNE_LR_SCALE
    variants, outcomes = [], []
    for each in requests:
        name, stem = (
            ("pruned", "model.pruned") if not sweep else (f"pruned@{each.level:g}", f"sweep/pruned-{each.level:g}")
        )
        info(f"{name}: pruning {handle.name}")
        pruned, outcome = prune_model(handle, bundle, each, config)
        pruned = save_pruned(pruned, output_dir / f"{stem}.pt")
        variants.append(Variant(name, "fp32", baseline_artifacts(pruned, bundle, True, output_dir / f"{stem}.onnx")))
        outcomes.append(outcome)
    backends = backends or DEFAULT_BACKENDS
    measured = engine_artifacts([Variant("baseline", "fp32", baseline), *variants], backends, output_dir, batch_sizes)
    compared = side_by_side(measured, bundle, backends, device, batch_sizes, max_samples)
    rows = compared.rows
    annotate_rows(rows, measured, {variant.name: outcome for variant, outcome in zip(variants, outcomes, strict=True)})
    extra: dict[str, Any] = {"settings": {v.name: [each.record()] for v, each in zip(variants, requests, strict=True)}}
    if sweep:
        extra["sweep"] = sweep_summary(rows, outcomes, variants, get_task(handle.task).primary_metric)
        extra["sweep_plot"] = str(sweep_plot(rows, variants, handle, get_task(handle.task).primary_metric, output_dir))
    else:
        extra["pruning"] = outcomes[0].summary()
    notes = [UNSTRUCTURED_NOTE] if not request.structured else []
    if request.finetune_epochs == 0:
        notes += untuned_losses(rows, get_task(handle.task).primary_metric)
    return write_compared(handle, bundle, compared, output_dir, extra, notes)


UNTUNED_DROP_POINTS = 5.0  # what pruning without fine-tuning may cost before the run says what to do


def untuned_losses(rows: list[ResultRow], metric: str) -> list[str]:
    """Pruning without fine-tuning can cost most of the accuracy: the table shows the number, this line
    says what to do about it. Said aloud and kept in the report's notes."""
    baseline = next(row.metrics[metric] for row in rows if row.variant == "baseline")
    first_rows: dict[str, ResultRow] = {}
    for row in rows:
        if row.variant != "baseline":
            first_rows.setdefault(row.variant, row)
    lines = []
    for variant, row in first_rows.items():
        drop = (baseline - row.metrics[metric]) * 100.0
        if drop > UNTUNED_DROP_POINTS:
            lines.append(
                f"{variant}: {metric} {row.metrics[metric]:.4f}, {drop:.1f} points below the baseline's "
                f"{baseline:.4f}, without fine-tuning; --finetune-epochs 3 (or more) retrains the pruned model"
            )
    for line in lines:
        warn(line)
    return lines
