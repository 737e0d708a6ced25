""" "Is it faster?": each compressed variant against the baseline, per backend and batch size, same run.

Both rows come from one `measure_variants` call on one machine, so the ratio is fair even on a noisy
machine; a variant counts as faster only when it wins by more than the noise margin.
"""

from __future__ import annotations

from pydantic import BaseModel

from compressor.report import ResultRow

FASTER_MARGIN = 1.05  # a variant must be at least 5% faster (median latency) to count as faster


class SpeedVerdict(BaseModel):
    variant: str
    backend: str
    device: str
    batch_size: int
    speedup: float  # reference p50 latency / variant p50 latency
    faster: bool
    reference: str = "baseline"  # the variant compared against (distillation: the teacher)

    def sentence(self) -> str:
        verdict = "faster" if self.faster else ("slower" if self.speedup < 1 / FASTER_MARGIN else "no faster")
        return (
            f"{self.variant} on {self.backend} ({self.device}, batch {self.batch_size}): {self.speedup:.2f}x "
            f"the {self.reference}'s speed, {verdict}"
        )


def speed_verdicts(rows: list[ResultRow], baseline: str = "baseline") -> list[SpeedVerdict]:
    """One verdict per non-baseline row that has a baseline row on the same backend, device and batch size."""
    reference = {(r.backend, r.device, r.batch_size): r for r in rows if r.variant == baseline}
    verdicts = []
    for row in rows:
        base = reference.get((row.backend, row.device, row.batch_size))
        if row.variant == baseline or base is None:
            continue
        speedup = base.latency_ms.p50 / row.latency_ms.p50
        verdicts.append(
            SpeedVerdict(
                variant=row.variant,
                backend=row.backend,
                device=row.device,
                batch_size=row.batch_size,
                speedup=round(speedup, 3),
                faster=speedup >= FASTER_MARGIN,
                reference=baseline,
            )
        )
    return verdicts
