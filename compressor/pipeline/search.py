"""Search inside an accuracy budget: measure each candidate, keep the Pareto front of accuracy, latency
and size, and pick the fastest candidate whose accuracy drop stays within the budget.

Speed is judged by ratios measured side by side: each stage's report times its output against its
input in the same run, and a chain's ratio is the product of its stages' ratios, so a noisy machine
does not reorder candidates measured minutes apart. After every candidate the record (and a copy of
the best model so far under OUTDIR/best) is on disk, and a resumed search skips finished candidates.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from compressor.core.errors import CompressorError
from compressor.core.progress import info, warn
from compressor.pipeline.chain import ChainState, ChainStep, run_chain
from compressor.pipeline.recipe import SearchSpec, StageEntry
from compressor.pipeline.stages import RunOptions
from compressor.report.pareto import pareto_front
from compressor.report.schema import REFERENCE_VARIANTS, Report, ResultRow
from compressor.report.verdict import FASTER_MARGIN, head_to_head_speedups


def candidate_name(chain: list[StageEntry]) -> str:
    """A short, readable, file-safe name: `quantize-int8-entropy`, `prune-0.5+quantize-int8`."""
    parts = []
    for entry in chain:
        options = entry.stage.model_dump(exclude_defaults=True, exclude_none=True)
        values = [str(value) for value in options.values() if isinstance(value, str | int | float | bool)]
        parts.append("-".join([entry.kind, *values]))
    return "+".join(parts).replace("/", "_").replace(" ", "")


def _row(report: Report, variant: str, place: tuple[str, str, int]) -> ResultRow | None:
    return next(
        (row for row in report.results if (row.variant, row.backend, row.device, row.batch_size) == (variant, *place)),
        None,
    )


def score_chain(root: Path, steps: list[ChainStep], backend: str, device: str, batch_size: int) -> dict[str, Any]:
    """Metric, accuracy drop (points), latency ratio and size of a finished chain, from its stages' reports:
    the ratio is the product of each stage's ratio to its own input, timed side by side in that stage
    (head to head where the stage timed its verdict so)."""
    place = (backend, device, batch_size)
    reference_metric, reference_size, ratio, last = None, 0.0, 1.0, None
    for step in steps:
        if step.report is None or step.kind == "bench" or step.variant is None:
            continue
        report = Report.model_validate_json((root / step.report).read_text())
        metric_name = report.primary_metric
        reference = next((row for name in REFERENCE_VARIANTS if (row := _row(report, name, place)) is not None), None)
        output = _row(report, step.variant, place)
        if reference is None or output is None:
            raise CompressorError(
                f"{step.folder} has no {backend} rows at batch {batch_size} on {device} to rank it by"
            )
        if reference_metric is None:
            reference_metric, reference_size = reference.metrics[metric_name], reference.size_mb
        ratio *= _latency_ratio(report, reference, output)
        last = (output, metric_name)
    if last is None or reference_metric is None:
        raise CompressorError("a candidate must measure its model (prune, distill or quantize)")
    row, metric_name = last
    metric = row.metrics[metric_name]
    return {
        "metric_name": metric_name,
        "reference_metric": reference_metric,
        "input_size_mb": reference_size,
        "metric": metric,
        "accuracy_drop": round((reference_metric - metric) * 100.0, 4),
        "latency_ratio": ratio,
        "speedup": 1.0 / ratio,
        "size_mb": row.size_mb,
    }


def _latency_ratio(report: Report, reference: ResultRow, output: ResultRow) -> float:
    """The output's latency over the reference's: from the head-to-head verdict when the stage timed one
    (steadier than two rows timed once each), else from the rows."""
    speedups = head_to_head_speedups(report)
    speedup = speedups.get((output.variant, reference.variant, output.backend, output.device, output.batch_size))
    return 1.0 / speedup if speedup else output.latency_ms.p50 / reference.latency_ms.p50


def _keep_best(root: Path, best: dict[str, Any]) -> None:
    """OUTDIR/best holds a copy of the best model so far, replaced whole (never half old, half new)."""
    source = Path(best["model"])
    if not source.exists():
        return
    target, staging = root / "best", root / ".best.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    if source.is_dir():
        shutil.copytree(source, staging / source.name)
    else:
        shutil.copy2(source, staging / source.name)
    old = root / ".best.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


INPUT = "input"  # the uncompressed model: a candidate that wins unless one is faster within budget


def rank(candidates: list[dict[str, Any]], budget: float) -> tuple[list[str], str | None]:
    """The Pareto front (higher metric, lower latency ratio, smaller size) and the fastest within budget,
    the uncompressed input included: a search must never hand back something slower than what it got,
    nor a candidate less than FASTER_MARGIN faster (a tie within this machine's noise)."""
    measured = [c for c in candidates if c.get("status") == "done"]
    if measured:
        first = measured[0]
        reference = {"metric": first["reference_metric"], "size_mb": first["input_size_mb"]}
        measured = [{"name": INPUT, "latency_ratio": 1.0, "accuracy_drop": 0.0, **reference}, *measured]
    # a candidate replaces the input only when it counts as faster (the verdicts' margin), not within noise
    eligible = [
        c
        for c in measured
        if c["accuracy_drop"] <= budget and (c["name"] == INPUT or c["latency_ratio"] <= 1 / FASTER_MARGIN)
    ]
    points = [(c["metric"], c["latency_ratio"], c["size_mb"]) for c in measured]
    front = [measured[i]["name"] for i in pareto_front(points, maximize=(True, False, False))]
    best = min(eligible, key=lambda c: (c["latency_ratio"], -c["metric"]), default=None)
    return front, best["name"] if best and best["name"] != INPUT else None


def run_search(
    spec: SearchSpec,
    start: ChainState,
    run: RunOptions,
    root: Path,
    earlier: dict[str, Any],
    teacher: tuple[str, str | None],
    save: Any,
) -> dict[str, Any]:
    """Every candidate on the model `start` holds; `save(record)` after each. Returns the record."""
    chains = spec.chains()
    finished = {c["folder"]: c for c in earlier.get("candidates", []) if c.get("status") in ("done", "failed")}
    record: dict[str, Any] = {
        "max_accuracy_drop": spec.max_accuracy_drop,
        "backend": spec.backend,
        "batch_size": spec.batch_size,
        "max_minutes": spec.max_minutes,
        "input": start.model,
        "candidates": [],
        "pareto": [],
        "best": None,
    }
    deadline = None if spec.max_minutes is None else time.monotonic() + spec.max_minutes * 60
    for index, chain in enumerate(chains):
        name = candidate_name(chain)
        folder = root / "search" / f"{index + 1:02d}-{name}"
        relative = str(folder.relative_to(root))
        if relative in finished:
            info(f"search {index + 1}/{len(chains)}: {name} measured in an earlier run, skipped")
            candidate = finished[relative]
        elif deadline is not None and time.monotonic() >= deadline:
            info(f"search {index + 1}/{len(chains)}: {name} not started: the {spec.max_minutes:g} minutes are spent")
            candidate = {"name": name, "folder": relative, "status": "not run"}
            candidate["error"] = f"max_minutes {spec.max_minutes:g} spent before it started (--resume runs it)"
        else:
            info(f"search {index + 1}/{len(chains)}: {name}")
            state = ChainState(start.model, start.weights, start.torch_model)
            candidate = {"name": name, "folder": relative, "stages": [e.model_dump(exclude_none=True) for e in chain]}
            try:
                state = run_chain(chain, state, run, root, folder, [], teacher, lambda _: None)
                candidate.update(score_chain(root, state.steps, spec.backend, run.device, spec.batch_size))
                candidate.update(status="done", model=state.model, steps=[s.as_dict() for s in state.steps])
            except CompressorError as error:  # one candidate that cannot run must not sink the search
                warn(f"search: {name} failed: {error}")
                candidate.update(status="failed", error=str(error))
        record["candidates"].append(candidate)
        if candidate["status"] == "done":
            candidate["within_budget"] = candidate["accuracy_drop"] <= spec.max_accuracy_drop
            info(
                f"search: {name}: drop {candidate['accuracy_drop']:.2f} pt, {candidate['speedup']:.2f}x speed, "
                f"{candidate['size_mb']:.2f} MB"
            )
        previous_best = record["best"]
        record["pareto"], record["best"] = rank(record["candidates"], spec.max_accuracy_drop)
        if record["best"] is not None and record["best"] != previous_best:  # best so far kept on disk at once
            _keep_best(root, next(c for c in record["candidates"] if c["name"] == record["best"]))
        save(record)
    left = sum(c["status"] == "not run" for c in record["candidates"])
    if left:
        warn(
            f"search: {left} of {len(chains)} candidates not started within {spec.max_minutes:g} minutes; "
            "--resume runs them"
        )
    if record["best"] is None:
        warn(
            f"search: no candidate was faster than the uncompressed model within {spec.max_accuracy_drop} points; "
            "keep the input model"
        )
    return record


def best_steps(record: dict[str, Any]) -> list[ChainStep]:
    """The chain of the winning candidate, for the summary report."""
    best = next((c for c in record["candidates"] if c["name"] == record.get("best")), None)
    return [ChainStep(**step) for step in best["steps"]] if best else []
