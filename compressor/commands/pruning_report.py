"""What a prune run adds to its report: per-row sparsity and compressed size, and the sweep's table and plot."""

from __future__ import annotations

from pathlib import Path

from compressor.core.files import compressed_size_mb
from compressor.core.handle import ModelHandle
from compressor.measurement.variants import Variant
from compressor.methods.prune_options import PruneOutcome
from compressor.report.plots import Point, accuracy_latency_plot
from compressor.report.schema import ResultRow

UNSTRUCTURED_NOTE = (
    "unstructured sparsity: dense runtimes (torch, onnxruntime on CPU) compute the zeroed weights at full "
    "cost, so expect no speed-up; the gain is compressed_size_mb (the ONNX file deflated, as in a zip)"
)
SWEEP_PLOT = "sweep.png"


def annotate_rows(rows: list[ResultRow], variants: list[Variant], outcomes: dict[str, PruneOutcome]) -> None:
    """Add `compressed_size_mb` (each variant's ONNX file deflated) to every row, and `sparsity` to the
    rows of unstructured variants (zero fraction of the pruned layers' weights)."""
    compressed = {
        variant.name: round(compressed_size_mb(variant.artifacts["onnxruntime"].onnx_path), 3)  # type: ignore[arg-type]
        for variant in variants
    }
    for row in rows:
        row.compressed_size_mb = compressed[row.variant]  # type: ignore[attr-defined]
        outcome = outcomes.get(row.variant)
        if outcome is not None and outcome.sparsity is not None:
            row.sparsity = round(outcome.sparsity, 4)  # type: ignore[attr-defined]


def _row(rows: list[ResultRow], variant: str) -> ResultRow:
    """The variant's onnxruntime row at the smallest batch size: the sweep's point."""
    candidates = [r for r in rows if r.variant == variant and r.backend == "onnxruntime"]
    return min(candidates, key=lambda r: r.batch_size)


def sweep_summary(
    rows: list[ResultRow], outcomes: list[PruneOutcome], variants: list[Variant], metric: str
) -> list[dict[str, object]]:
    """Per level: accuracy, params, MACs and onnxruntime latency (smallest batch), from this run's rows."""
    table = []
    for variant, outcome in zip(variants, outcomes, strict=True):
        row = _row(rows, variant.name)
        table.append(
            {
                "variant": variant.name,
                "level": outcome.request.level,
                metric: row.metrics[metric],
                "params": row.params,
                "macs": row.macs,
                "latency_ms": row.latency_ms.p50,
                "batch_size": row.batch_size,
            }
        )
    return table


def sweep_plot(rows: list[ResultRow], variants: list[Variant], handle: ModelHandle, metric: str, out: Path) -> Path:
    points = [
        Point(
            variant.name.split("@")[-1],
            _row(rows, variant.name).latency_ms.p50,
            _row(rows, variant.name).metrics[metric],
        )
        for variant in variants
    ]
    base = _row(rows, "baseline")
    baseline = Point("baseline", base.latency_ms.p50, base.metrics[metric])
    title = f"{handle.name}: {metric} vs onnxruntime latency (batch {base.batch_size})"
    return accuracy_latency_plot(points, baseline, metric, title, out / SWEEP_PLOT)
