""" "Is it faster?": each compressed variant against the baseline, per backend and batch size, same run.

The speed-up is the median of the two models timed head to head in alternating rounds (see
`head_to_head`), where those rounds were run; else the ratio of the two rows' p50 latencies, which
come from one `measure_variants` call but from one session each. A variant counts as faster only
when it wins by more than the noise margin.
"""

from __future__ import annotations

import statistics

from pydantic import BaseModel

from compressor.report.schema import Report, ResultRow

VerdictKey = tuple[str, str, str, int]  # variant, backend, device, batch size
FASTER_MARGIN = 1.05  # a variant must be at least 5% faster (median latency) to count as faster


class SpeedVerdict(BaseModel):
    variant: str
    backend: str
    device: str
    batch_size: int
    speedup: float  # reference time / variant time: the head-to-head median, else the rows' p50 ratio
    faster: bool
    reference: str = "baseline"  # the variant compared against (distillation: the teacher)
    rounds: int = 0  # head-to-head rounds behind `speedup`; 0: the rows' p50 ratio
    rows_speedup: float | None = None  # the rows' p50 ratio, for comparison with the table

    def sentence(self) -> str:
        verdict = "faster" if self.faster else ("slower" if self.speedup < 1 / FASTER_MARGIN else "no faster")
        how = f" (head to head, {self.rounds} rounds)" if self.rounds else ""
        return (
            f"{self.variant} on {self.backend} ({self.device}, batch {self.batch_size}): {self.speedup:.2f}x "
            f"the {self.reference}'s speed{how}, {verdict}"
        )


def speed_verdicts(
    rows: list[ResultRow], baseline: str = "baseline", head_to_head: dict[VerdictKey, list[float]] | None = None
) -> list[SpeedVerdict]:
    """One verdict per non-baseline row that has a baseline row on the same backend, device and batch size."""
    reference = {(r.backend, r.device, r.batch_size): r for r in rows if r.variant == baseline}
    verdicts = []
    for row in rows:
        base = reference.get((row.backend, row.device, row.batch_size))
        if row.variant == baseline or base is None:
            continue
        rows_speedup = base.latency_ms.p50 / row.latency_ms.p50
        ratios = (head_to_head or {}).get((row.variant, row.backend, row.device, row.batch_size), [])
        speedup = statistics.median(ratios) if ratios else rows_speedup
        verdicts.append(
            SpeedVerdict(
                variant=row.variant,
                backend=row.backend,
                device=row.device,
                batch_size=row.batch_size,
                speedup=round(speedup, 3),
                faster=speedup >= FASTER_MARGIN,
                reference=baseline,
                rounds=len(ratios),
                rows_speedup=round(rows_speedup, 3),
            )
        )
    return verdicts


HeadToHeadKey = tuple[str, str, str, str, int]  # variant, reference, backend, device, batch size


def head_to_head_speedups(report: Report) -> dict[HeadToHeadKey, float]:
    """The speed-ups of a report's verdicts (as written in its JSON) that were timed head to head."""
    return {
        (v["variant"], v.get("reference", "baseline"), v["backend"], v["device"], v["batch_size"]): v["speedup"]
        for v in (report.model_extra or {}).get("verdicts") or []
        if v.get("rounds") and v.get("speedup")
    }


DEFAULT_ACCURACY_BUDGET = 1.0  # points of the primary metric, where the run set no --max-accuracy-drop


class Fastest(BaseModel):
    """The fastest row at one batch size among those within the accuracy budget: which backend and precision
    to deploy, from the rows of one run."""

    device: str
    batch_size: int
    variant: str
    backend: str
    precision: str
    p50_ms: float
    metric: float | None
    budget: float  # points below the best reference row's metric
    rows: int  # rows at this batch size within the budget, the winner among them

    def sentence(self, metric_name: str) -> str:
        score = f", {metric_name} {self.metric:.4f}" if self.metric is not None else ""
        return (
            f"fastest within {self.budget:g} pt of the best {metric_name} ({self.device}, batch {self.batch_size}): "
            f"{self.variant} ({self.precision}) on {self.backend}, p50 {self.p50_ms:.2f} ms{score}"
        )


def fastest_within_budget(
    rows: list[ResultRow], metric: str, budget: float = DEFAULT_ACCURACY_BUDGET, reference: str = "baseline"
) -> list[Fastest]:
    """Per device and batch size, the row with the lowest p50 latency whose `metric` is within `budget`
    points of the best reference row's; only where several backends were measured (one backend's rows
    already sit side by side in the verdicts)."""
    if len({row.backend for row in rows}) < 2:
        return []
    found = []
    best = max((row.metrics.get(metric) for row in rows if row.variant == reference), default=None, key=_ranked)
    for device, batch_size in sorted({(row.device, row.batch_size) for row in rows}):
        here = [row for row in rows if (row.device, row.batch_size) == (device, batch_size)]
        within = [row for row in here if best is None or _within(row.metrics.get(metric), best, budget)]
        if not within:
            continue
        winner = min(within, key=lambda row: row.latency_ms.p50)
        found.append(
            Fastest(
                device=device,
                batch_size=batch_size,
                variant=winner.variant,
                backend=winner.backend,
                precision=winner.precision,
                p50_ms=round(winner.latency_ms.p50, 4),
                metric=winner.metrics.get(metric),
                budget=budget,
                rows=len(within),
            )
        )
    return found


def _ranked(value: float | None) -> float:
    return float("-inf") if value is None else value


def _within(value: float | None, best: float | None, budget: float) -> bool:
    if best is None:
        return True
    return value is not None and (best - value) * 100.0 <= budget + 1e-9
