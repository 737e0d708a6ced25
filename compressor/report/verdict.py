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
