"""Two models timed against each other in alternating rounds, each round in runners of its own.

On a shared machine a row timed once measures its session as much as its model. Opening both models
afresh every round, alternating which goes first, and taking the median ratio measures the models
instead. The speed tuner and every report's verdicts use it.
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
FreshTiming = Callable[[], float]  # opens a runner, times it, closes it


def fresh_timing(make: MakeRunner, timed: TimeRunner) -> FreshTiming:
    """One side of a head-to-head: each call times a runner of its own (each side may time its own inputs:
    a distilled student at another input size than its teacher)."""

    def timing() -> float:
        runner = make()
        try:
            return timed(runner)
        finally:
            runner.close()

    return timing


def alternating_ratios(reference: FreshTiming, candidate: FreshTiming, rounds: int) -> list[float]:
    """`reference`'s time over `candidate`'s (>1: the candidate is faster), once per round."""
    ratios = []
    for index in range(rounds):
        if index % 2 == 0:
            reference_time, candidate_time = reference(), candidate()
        else:
            candidate_time = candidate()
            reference_time = reference()
        ratios.append(reference_time / candidate_time)
    return ratios
