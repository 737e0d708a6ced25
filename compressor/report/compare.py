"""`compress compare`: the CI regression gate. Two reports of the same model and data, row by row.

Accuracy is compared in points of the primary metric; latency as a ratio to the row's own report's
reference row (`baseline`, or `teacher`) at the same backend, device and batch size (head-to-head where
both reports have it, else p50), which cancels a slower CI machine; raw ms only where no ratio exists.
A reference row is not gated on latency (that would bring the machine noise back), only on accuracy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from compressor.core.errors import InputFileError
from compressor.report.schema import REFERENCE_VARIANTS, Report, ResultRow, busy_machine_note, read_report
from compressor.report.verdict import HeadToHeadKey, head_to_head_speedups

BOUND_SLACK = 1e-9  # a change equal to its bound passes, whatever float subtraction leaves (0.89 - 0.88)
REFERENCE_BASIS = "ms, not gated (reference)"  # a reference row the ratios of its group were taken to
RowKey = tuple[str, str, str, int]  # variant, backend, device, batch size


@dataclass
class RowComparison:
    variant: str
    backend: str
    device: str
    batch_size: int
    status: str = "compared"  # "compared", "missing" (in the baseline only) or "new" (in the new report only)
    metric_baseline: float | None = None
    metric_new: float | None = None
    accuracy_drop: float | None = None  # points; positive = worse
    latency_basis: str = "none"  # "ratio to <reference>", "ms", REFERENCE_BASIS, or "none" (no latency to compare)
    latency_baseline: float | None = None  # in the basis' unit
    latency_new: float | None = None
    latency_increase: float | None = None  # percent; positive = slower
    regressions: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    model: str
    metric: str
    max_accuracy_drop: float
    max_latency_increase: float
    rows: list[RowComparison]
    cautions: list[str] = field(default_factory=list)  # e.g. a report timed on a busy machine

    @property
    def regressed(self) -> list[RowComparison]:
        return [row for row in self.rows if row.regressions]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": not self.regressed}


def _key(row: ResultRow) -> RowKey:
    return (row.variant, row.backend, row.device, row.batch_size)


def _reference(rows: dict[RowKey, ResultRow], key: RowKey) -> ResultRow | None:
    for name in REFERENCE_VARIANTS:
        if name != key[0] and (row := rows.get((name, *key[1:]))) is not None:
            return row
    return None


def _check_comparable(new: Report, baseline: Report) -> None:
    for what, a, b in (
        ("model", new.model, baseline.model),
        ("primary metric", new.primary_metric, baseline.primary_metric),
        ("dataset", new.dataset.name, baseline.dataset.name),
    ):
        if a != b:
            raise InputFileError(f"the reports measure different things: {what} {a!r} vs {b!r} in the baseline")


def _latency(
    row: RowComparison,
    new: ResultRow,
    base: ResultRow,
    refs: tuple[ResultRow | None, ...],
    head_to_head: tuple[dict[HeadToHeadKey, float], ...],
) -> None:
    new_ref, base_ref = refs
    if new_ref is not None and base_ref is not None and new_ref.latency_ms.p50 > 0 and base_ref.latency_ms.p50 > 0:
        key = (row.variant, new_ref.variant, row.backend, row.device, row.batch_size)
        new_speedup, base_speedup = (timed.get(key) for timed in head_to_head)
        if new_ref.variant == base_ref.variant and new_speedup and base_speedup:
            row.latency_basis = f"head-to-head ratio to {new_ref.variant}"
            row.latency_new, row.latency_baseline = 1.0 / new_speedup, 1.0 / base_speedup
        else:
            row.latency_basis = f"ratio to {new_ref.variant}"
            row.latency_new = new.latency_ms.p50 / new_ref.latency_ms.p50
            row.latency_baseline = base.latency_ms.p50 / base_ref.latency_ms.p50
    else:
        row.latency_basis = "ms"
        row.latency_new, row.latency_baseline = new.latency_ms.p50, base.latency_ms.p50
    if row.latency_baseline > 0:  # a hand-edited 0 ms would divide by zero: shown, not compared
        row.latency_increase = (row.latency_new / row.latency_baseline - 1.0) * 100.0


def _divisors(rows: list[RowComparison]) -> set[RowKey]:
    """The reference rows some other row was compared as a ratio to."""
    return {
        (row.latency_basis.rpartition("ratio to ")[2], row.backend, row.device, row.batch_size)
        for row in rows
        if "ratio to " in row.latency_basis
    }


def compare_reports(
    new: Report, baseline: Report, max_accuracy_drop: float = 1.0, max_latency_increase: float = 10.0
) -> Comparison:
    """Every row of the baseline against the same row of the new report; rows only in the new one are listed."""
    _check_comparable(new, baseline)
    metric = new.primary_metric
    new_rows = {_key(row): row for row in new.results}
    base_rows = {_key(row): row for row in baseline.results}
    head_to_head = (head_to_head_speedups(new), head_to_head_speedups(baseline))
    compared = []
    for key in list(base_rows) + [key for key in new_rows if key not in base_rows]:
        base, fresh = base_rows.get(key), new_rows.get(key)
        row = RowComparison(*key, status="missing" if fresh is None else "new" if base is None else "compared")
        row.metric_baseline = base.metrics.get(metric) if base else None
        row.metric_new = fresh.metrics.get(metric) if fresh else None
        if fresh is None:
            row.regressions.append("missing from the new report")
        if base is not None and fresh is not None:
            if row.metric_baseline is not None and row.metric_new is not None:
                row.accuracy_drop = (row.metric_baseline - row.metric_new) * 100.0
                if math.isnan(row.accuracy_drop):  # NaN passes every comparison: an empty or broken val set
                    row.regressions.append(f"{metric} is not a number")
                elif row.accuracy_drop > max_accuracy_drop + BOUND_SLACK:
                    row.regressions.append(f"{metric} -{row.accuracy_drop:.2f} pt")
            _latency(row, fresh, base, (_reference(new_rows, key), _reference(base_rows, key)), head_to_head)
        compared.append(row)
    divisors = _divisors(compared)
    for row in compared:
        if (row.variant, row.backend, row.device, row.batch_size) in divisors and row.latency_basis == "ms":
            row.latency_basis = REFERENCE_BASIS
        elif row.latency_increase is not None and row.latency_increase > max_latency_increase + BOUND_SLACK:
            row.regressions.append(f"latency +{row.latency_increase:.1f}%")
    cautions = [
        f"{which}: {note}"
        for which, report in (("new", new), ("baseline", baseline))
        if (note := busy_machine_note(report.results)) is not None
    ]
    return Comparison(new.model, metric, max_accuracy_drop, max_latency_increase, compared, cautions)


def compare_files(
    new_path: str | Path, baseline_path: str | Path, max_accuracy_drop: float = 1.0, max_latency_increase: float = 10.0
) -> Comparison:
    """`compress compare`: read both reports (a bad file is one clear error) and compare them."""
    return compare_reports(read_report(new_path), read_report(baseline_path), max_accuracy_drop, max_latency_increase)


def _cell(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def to_markdown(comparison: Comparison) -> str:
    """The table CI logs show: every row, what it was compared by, and what regressed."""
    metric = comparison.metric
    lines = [
        f"# {comparison.model}: {metric} drop <= {comparison.max_accuracy_drop:g} pt, latency increase <= "
        f"{comparison.max_latency_increase:g}%",
        "",
        f"| variant | backend | device | batch | {metric} base | {metric} new | drop pt | latency by | base | new "
        "| change | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in comparison.rows:
        verdict = "REGRESSED: " + "; ".join(row.regressions) if row.regressions else "ok"
        verdict = "new row" if row.status == "new" else verdict
        unit = ".3f" if "ratio" in row.latency_basis else ".2f"
        lines.append(
            f"| {row.variant} | {row.backend} | {row.device} | {row.batch_size} | {_cell(row.metric_baseline, '.4f')} "
            f"| {_cell(row.metric_new, '.4f')} | {_cell(row.accuracy_drop, '+.2f')} | {row.latency_basis} "
            f"| {_cell(row.latency_baseline, unit)} | {_cell(row.latency_new, unit)} "
            f"| {_cell(row.latency_increase, '+.1f')}{'%' if row.latency_increase is not None else ''} | {verdict} |"
        )
    regressed = len(comparison.regressed)
    lines += ["", f"{regressed} of {len(comparison.rows)} rows regressed" if regressed else "no regression"]
    lines += [f"caution: {caution}" for caution in comparison.cautions]
    return "\n".join(lines) + "\n"
