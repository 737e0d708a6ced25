"""Two models timed against each other in alternating rounds, each round in runners of its own.

On a shared machine a row timed once answers "how fast was this session, then?": two sessions of
one int8 file timed 1.04x and 1.21x the fp32 row in one report, and two sessions of one DenseNet
file held 1.10-1.20x apart over nine rounds. Opening both models afresh every round, the one timed
first taking turns, and taking the median of the rounds measures the models instead. The speed
tuner and the verdicts of every report use it.
"""

from __future__ import annotations

from collections.abc import Callable

from compressor.runtime.base import Runner

# Each verdict of a report: this many rounds, each timing a model for a short spell.
VERDICT_ROUNDS = 5
VERDICT_SECONDS = 0.3
VERDICT_ITERATIONS = 5
VERDICT_WARMUP = 2

MakeRunner = Callable[[], Runner]
TimeRunner = Callable[[Runner], float]


def _fresh_time(make: MakeRunner, timed: TimeRunner) -> float:
    runner = make()
    try:
        return timed(runner)
    finally:
        runner.close()


def alternating_ratios(reference: MakeRunner, candidate: MakeRunner, timed: TimeRunner, rounds: int) -> list[float]:
    """`reference`'s time over `candidate`'s (>1: the candidate is faster), once per round."""
    ratios = []
    for index in range(rounds):
        if index % 2 == 0:
            reference_time = _fresh_time(reference, timed)
            candidate_time = _fresh_time(candidate, timed)
        else:
            candidate_time = _fresh_time(candidate, timed)
            reference_time = _fresh_time(reference, timed)
        ratios.append(reference_time / candidate_time)
    return ratios
