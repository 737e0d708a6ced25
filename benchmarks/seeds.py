"""Training-based figures over several seeds, shared by the benchmarks that report their spread.

Training on 2 CPU cores differs from machine to machine in the last digits, and that grows into points of
top-1 over a few epochs: a target met on one seed alone is not met. `run_seeds` runs one training per
seed, side by side in fresh processes with the cores shared among them, and `span` gives a figure's
lowest, mean and highest over the seeds for the table's "min / mean / max" row.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

import torch

SPREAD = "min / mean / max"  # the first cell of the spread row

T = TypeVar("T")


def add_seed_options(parser: argparse.ArgumentParser) -> None:
    """--seeds and --jobs, as every seeded benchmark takes them."""
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at once, each on its share of the cores")


def _on_threads(work: Callable[[int, Path], T], threads: int, seed: int, folder: Path) -> T:
    torch.set_num_threads(threads)
    return work(seed, folder)


def threads_per_job(jobs: int) -> int:
    """The torch threads each of `jobs` seeds trained at once gets: its share of the cores."""
    return max(1, (os.cpu_count() or 1) // jobs)


def run_seeds(work: Callable[[int, Path], T], seeds: list[int], jobs: int, name: str) -> list[T]:
    """`work(seed, folder)` for every seed, in the seeds' order: `jobs` at a time, each in a fresh process
    on its share of the cores. `folder` is the seed's own path (not yet made) under a temporary
    directory that is removed afterwards; `work` must be a module-level function (it is pickled)."""
    threads = threads_per_job(jobs)
    spawn = multiprocessing.get_context("spawn")  # no fork of a process whose torch may hold threads
    with (
        tempfile.TemporaryDirectory(prefix=f"compressor-bench-{name}-") as scratch,
        ProcessPoolExecutor(max_workers=jobs, mp_context=spawn) as pool,
    ):
        futures = [pool.submit(_on_threads, work, threads, seed, Path(scratch) / f"seed{seed}") for seed in seeds]
        return [future.result() for future in futures]


def span(values: list[float], share: bool = False, digits: int = 4) -> str:
    """One spread cell: the lowest, mean and highest of `values` (as percentages with `share`)."""
    form = ".1%" if share else f".{digits}f"
    return " / ".join(format(value, form) for value in (min(values), statistics.mean(values), max(values)))
