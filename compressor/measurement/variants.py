"""Every variant of a model, on every backend, measured the same way: one engine for all commands.

`compress bench` measures one variant (`baseline`); quantize, prune and distill add theirs to the
same call, so the rows of one report always come from one run on one machine.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from compressor.core.environment import collect_environment
from compressor.core.errors import BackendUnavailableError, brief
from compressor.core.handle import ModelHandle
from compressor.core.progress import info, warn
from compressor.data.base import DatasetBundle, deterministic_subset
from compressor.measurement import head_to_head
from compressor.measurement.evaluate import evaluate
from compressor.measurement.footprint import Footprint, onnx_footprint, torch_footprint
from compressor.measurement.timing import build_and_measure_memory, time_runner
from compressor.models.onnx_file import static_batch_size
from compressor.report.schema import BUSY_MACHINE_SHARE, DatasetInfo, LatencyMs, Report, ResultRow, busy_machine_note
from compressor.report.verdict import DEFAULT_ACCURACY_BUDGET, VerdictKey, fastest_within_budget
from compressor.runtime import Runner, artifact_for, get_backend, make_runner
from compressor.runtime.cuda_graph import CudaGraphRunner
from compressor.runtime.fixed_batch import FixedBatchRunner
from compressor.runtime.torch_runner import TorchRunner
from compressor.tasks import get_task

DEFAULT_BACKENDS = ["torch", "onnxruntime"]  # what quantize, prune and distill measure unless told


@dataclass
class Variant:
    """One version of the model (`baseline`, `int8`, ...) and the artifact each backend runs."""

    name: str
    precision: str
    # backend name -> the handle it runs; a backend without its own entry runs the torch model or the ONNX
    # file among them (`artifact_for`)
    artifacts: dict[str, ModelHandle]

    @property
    def torch_handle(self) -> ModelHandle | None:
        return next((h for h in self.artifacts.values() if h.module is not None), None)


def _artifact_name(handle: ModelHandle) -> str | None:
    if handle.onnx_path is not None:
        return handle.onnx_path.name
    weights = Path(handle.weights) if handle.weights else None
    return weights.name if weights is not None and weights.is_file() else None


def _cuda_graph_latency(runner: TorchRunner, inputs: list[torch.Tensor], label: str) -> dict[str, float] | None:
    """Latency of the torch model replayed as one CUDA graph (see runtime/cuda_graph.py); None, with a
    warning, where the model cannot be captured."""
    try:
        graph = CudaGraphRunner(runner.module, runner.to_device(inputs))
    except RuntimeError as error:
        warn(f"{label}: no CUDA graph timing, the model cannot be captured: {brief(error)}")
        return None
    try:
        stats = time_runner(graph, inputs)
    finally:
        graph.close()
    return LatencyMs(p50=stats.p50, p90=stats.p90, p99=stats.p99).model_dump()


def _measure_on_backend(
    variant: Variant,
    handle: ModelHandle,
    backend: str,
    footprint: Footprint,
    val: Dataset,
    device: str,
    batch_sizes: list[int],
) -> list[ResultRow]:
    """Accuracy once, then latency per batch size, through one runner of `handle` on `backend`."""
    task = get_task(handle.task)
    info(f"measuring {variant.name} on {backend} ({device})")
    # an engine takes the batch of the ONNX it was built from, as onnxruntime does
    runs_onnx = get_backend(backend).runs != "torch"
    on_onnx = runs_onnx and handle.onnx_path is not None and not handle.openvino_ir and task.fixed_batch_size is None
    static = static_batch_size(handle.onnx_path) if on_onnx else None  # type: ignore[arg-type]
    if task.fixed_batch_size is not None and batch_sizes != [task.fixed_batch_size]:
        warn(
            f"{handle.task} models run {task.fixed_batch_size} sample at a time; timing batch size "
            f"{task.fixed_batch_size} only"
        )
        batch_sizes = [task.fixed_batch_size]
    elif static is not None and batch_sizes != [static]:
        warn(f"{handle.onnx_path} has a static batch size of {static}; timing batch size {static} only")
        batch_sizes = [static]
    example = task.example_inputs(handle.input_spec, max(batch_sizes))
    runner, peak_mb = build_and_measure_memory(lambda: make_runner(handle, backend, device), example, device)
    scorer = FixedBatchRunner(runner, static) if static is not None else runner  # scored in chunks of its size
    # detectors synchronise with the CPU (their outputs' sizes depend on the data): no graph to capture
    captures = device == "cuda" and task.fixed_batch_size is None
    capturable = runner if captures and isinstance(runner, TorchRunner) else None
    rows = []
    try:
        metrics = evaluate(scorer, task, val, handle.input_spec, label=f"{variant.name}/{backend} accuracy")
        for batch_size in batch_sizes:
            inputs = task.example_inputs(handle.input_spec, batch_size)
            stats = time_runner(runner, inputs)
            extra = {}
            if capturable is not None:
                graph_latency = _cuda_graph_latency(capturable, inputs, f"{variant.name} (batch {batch_size})")
                if graph_latency is None:
                    capturable = None  # one failed capture says it for every batch size
                else:
                    extra = {"cuda_graph_latency_ms": graph_latency}
            if stats.background_cpu > BUSY_MACHINE_SHARE:
                warn(
                    f"other processes used {stats.background_cpu:.0%} of the CPU while {variant.name} on {backend} "
                    f"(batch {batch_size}) was timed; its latency may be inflated"
                )
            rows.append(
                ResultRow(
                    variant=variant.name,
                    precision=variant.precision,
                    backend=backend,
                    device=device,
                    batch_size=batch_size,
                    artifact=_artifact_name(handle),
                    metrics=metrics,
                    latency_ms=LatencyMs(p50=stats.p50, p90=stats.p90, p99=stats.p99),
                    fps=stats.fps,
                    size_mb=footprint.size_mb,
                    params=footprint.params,
                    macs=footprint.macs,
                    peak_memory_mb=peak_mb,
                    background_cpu=round(stats.background_cpu, 3),
                    **extra,
                )
            )
    finally:
        runner.close()
    return rows


def _baseline_scoring_set(baseline: Variant, val: Dataset, device: str) -> Dataset:
    """The val set with the baseline's outputs as targets, for tasks scored against the baseline."""
    backend = "torch" if "torch" in baseline.artifacts else next(iter(baseline.artifacts))
    handle = baseline.artifacts[backend]
    info(f"computing the {baseline.name} outputs that every variant is scored against ({backend})")
    runner = make_runner(handle, backend, device)
    try:
        return get_task(handle.task).scoring_set(val, runner, handle.input_spec)
    finally:
        runner.close()


def measure_variants(
    variants: list[Variant],
    bundle: DatasetBundle,
    backends: list[str],
    device: str,
    batch_sizes: list[int],
    max_samples: int | None = None,
) -> tuple[list[ResultRow], int]:
    """Rows for every (variant, backend, batch size), and the number of val samples scored.

    A backend this machine lacks (onnxruntime without its CUDA provider, say) is skipped with a
    warning; having no backend left at all is an error.
    """
    rows: list[ResultRow] = []
    samples = 0
    scored_against: Dataset | None = None
    baseline_counts: Footprint | None = None
    for variant in variants:
        torch_handle = variant.torch_handle
        # A variant with no torch model (int8 ONNX) keeps the baseline's architecture: its params and MACs.
        reference = torch_footprint(torch_handle) if torch_handle is not None else baseline_counts
        baseline_counts = baseline_counts or reference
        for backend in backends:
            handle = artifact_for(variant.artifacts, backend)
            if handle is None:
                warn(f"{variant.name}: no artifact for backend {backend}; skipped")
                continue
            val = deterministic_subset(bundle.split("val", handle.input_spec), max_samples)
            if get_task(handle.task).scored_against_baseline:
                if scored_against is None:
                    scored_against = _baseline_scoring_set(variants[0], val, device)
                val = scored_against
            samples = len(val)  # type: ignore[arg-type]
            if handle.module is not None and reference is not None:
                footprint = reference
            else:
                footprint = onnx_footprint(handle, reference)
            try:
                rows += _measure_on_backend(variant, handle, backend, footprint, val, device, batch_sizes)
            except BackendUnavailableError as error:
                warn(f"{variant.name} on {backend} skipped: {error}")
    if not rows:
        raise BackendUnavailableError(f"none of the backends {', '.join(backends)} could run on {device}")
    return rows, samples


def head_to_head_ratios(
    variants: list[Variant], rows: list[ResultRow], device: str, reference: str = "baseline"
) -> dict[VerdictKey, list[float]]:
    """For every row that has a `reference` row beside it: the two artifacts timed against each other in
    alternating rounds (`head_to_head`), the ratios the verdicts decide on; rows timed once are not enough."""
    if head_to_head.VERDICT_ROUNDS == 0:  # verdicts from the rows
        return {}
    by_name = {variant.name: variant for variant in variants}
    measured = {(row.variant, row.backend, row.device, row.batch_size) for row in rows}
    ratios: dict[VerdictKey, list[float]] = {}
    for row in rows:
        if row.variant == reference or (reference, row.backend, row.device, row.batch_size) not in measured:
            continue
        pair = [artifact_for(by_name[name].artifacts, row.backend) for name in (reference, row.variant)]
        info(f"timing {row.variant} against {reference} head to head ({row.backend}, batch {row.batch_size})")
        sides = [_verdict_timing(handle, row.backend, device, row.batch_size) for handle in pair]
        key = (row.variant, row.backend, row.device, row.batch_size)
        ratios[key] = head_to_head.alternating_ratios(*sides, head_to_head.VERDICT_ROUNDS)
    return ratios


def _verdict_timing(handle: ModelHandle, backend: str, device: str, batch_size: int) -> head_to_head.FreshTiming:
    """One side of a verdict's head-to-head, on inputs of its own spec (a distilled student may take
    another input size than its teacher)."""
    inputs = get_task(handle.task).example_inputs(handle.input_spec, batch_size)

    def timed(runner: Runner) -> float:
        return time_runner(
            runner, inputs, head_to_head.VERDICT_SECONDS, head_to_head.VERDICT_ITERATIONS,
            warmup=head_to_head.VERDICT_WARMUP,
        ).p50  # fmt: skip

    return head_to_head.fresh_timing(functools.partial(make_runner, handle, backend, device), timed)


def _cuda_graph_note(rows: list[ResultRow]) -> str | None:
    """What the CUDA graph timing is, in reports that hold one (torch rows on CUDA)."""
    if not any("cuda_graph_latency_ms" in (row.model_extra or {}) for row in rows):
        return None
    return (
        "cuda_graph_latency_ms: torch on CUDA, the forward replayed as one captured CUDA graph (one launch a "
        "batch), where latency_ms launches each kernel from Python"
    )


def build_report(
    handle: ModelHandle,
    bundle: DatasetBundle,
    rows: list[ResultRow],
    samples: int,
    accuracy_budget: float | None = None,
    reference: str = "baseline",
    **extra: Any,
) -> Report:
    """The report of one run's rows; where several backends were measured, also which row is fastest within
    `accuracy_budget` points (default DEFAULT_ACCURACY_BUDGET) at each batch size (`fastest`)."""
    task = get_task(handle.task)
    budget = DEFAULT_ACCURACY_BUDGET if accuracy_budget is None else accuracy_budget
    fastest = fastest_within_budget(rows, task.primary_metric, budget, reference)
    if fastest:
        extra["fastest"] = [entry.model_dump() for entry in fastest]
    return Report(
        model=handle.name,
        task=handle.task,
        primary_metric=task.primary_metric,
        dataset=DatasetInfo(name=bundle.name, split="val", samples=samples),
        input_shape=list(handle.input_spec.shape),  # one sample's, as every row was fed
        environment=collect_environment(),
        results=rows,
        notes=[
            f"weights: {handle.weights}",
            *(f"input: {handle.metadata[key]}" for key in ("dynamic_size", "assumed") if key in handle.metadata),
            "latency: per batch after warm-up; fps: samples per second over the timed loop",
            "peak_memory_mb: on CPU, growth of process RSS while the backend loads the model and runs it; "
            "on CUDA, peak bytes allocated by torch, plus for TensorRT and onnxruntime the device memory they hold "
            "outside torch",
            "size_mb: weights bytes for torch rows, file size for ONNX rows; macs per sample (torch-pruning's counter)",
            *([task.measurement_note] if task.measurement_note else []),
            "background_cpu: share of the machine's CPU that other processes used while the row was timed",
            *filter(None, [_cuda_graph_note(rows), busy_machine_note(rows)]),
            *(entry.sentence(task.primary_metric) for entry in fastest),
        ],
        **extra,
    )


@dataclasses.dataclass
class SideBySide:
    """The rows of one measuring run, and each variant timed head to head against the reference."""

    rows: list[ResultRow]
    samples: int
    reference: str
    head_to_head: dict[VerdictKey, list[float]]


def side_by_side(
    variants: list[Variant],
    bundle: DatasetBundle,
    backends: list[str],
    device: str,
    batch_sizes: list[int],
    max_samples: int | None,
    reference: str = "baseline",
) -> SideBySide:
    rows, samples = measure_variants(variants, bundle, backends, device, batch_sizes, max_samples)
    return SideBySide(rows, samples, reference, head_to_head_ratios(variants, rows, device, reference))
