"""Latency percentiles, throughput and peak memory over any runner, measured the same way for all."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import psutil
import torch

from compressor.runtime.base import Runner

WARMUP_ITERATIONS = 5
MIN_ITERATIONS = 20
MIN_SECONDS = 1.0
MAX_ITERATIONS = 2000


@dataclass
class LatencyStats:
    p50: float  # milliseconds per batch
    p90: float
    p99: float
    fps: float  # samples per second over the timed loop
    iterations: int
    background_cpu: float  # share of the machine's CPU that other processes used during the timed loop


class OtherProcessesCpu:
    """The share of the machine's CPU time that processes other than this one used over a span.

    Timings taken while it is high are not the model's speed. Steal time counts as busy (another VM had
    the core); this process's own threads are subtracted.
    """

    def __enter__(self) -> OtherProcessesCpu:
        self.process = psutil.Process()
        self._start = (time.perf_counter(), _machine_busy_seconds(), _own_seconds(self.process))
        self.share = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        wall, busy, own = self._start
        elapsed = (time.perf_counter() - wall) * (psutil.cpu_count() or 1)
        others = (_machine_busy_seconds() - busy) - (_own_seconds(self.process) - own)
        self.share = min(1.0, max(0.0, others / elapsed)) if elapsed > 0 else 0.0


def _machine_busy_seconds() -> float:
    """CPU seconds the machine spent busy: every state but idle and iowait (guest time is already in user)."""
    times = psutil.cpu_times()._asdict()
    return sum(times.values()) - sum(times.get(state, 0.0) for state in ("idle", "iowait", "guest", "guest_nice"))


def _own_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def time_runner(
    runner: Runner,
    inputs: list[torch.Tensor],
    min_seconds: float = MIN_SECONDS,
    min_iterations: int = MIN_ITERATIONS,
    warmup: int = WARMUP_ITERATIONS,
) -> LatencyStats:
    """Warm up, then time batches until both minimums are met; device work is synchronised per batch."""
    placed = runner.to_device(inputs)
    for _ in range(warmup):
        runner.run_on_device(placed)
    runner.synchronize()
    timings: list[float] = []
    with OtherProcessesCpu() as others:
        started = time.perf_counter()
        while (len(timings) < min_iterations or time.perf_counter() - started < min_seconds) and len(
            timings
        ) < MAX_ITERATIONS:
            tick = time.perf_counter()
            runner.run_on_device(placed)
            runner.synchronize()
            timings.append(time.perf_counter() - tick)
    elapsed = sum(timings)
    batch = int(inputs[0].shape[0])
    p50, p90, p99 = (float(v) * 1000 for v in np.percentile(timings, [50, 90, 99]))
    return LatencyStats(
        p50=p50,
        p90=p90,
        p99=p99,
        fps=batch * len(timings) / elapsed,
        iterations=len(timings),
        background_cpu=others.share,
    )


def _release_freed_memory() -> None:
    """Hand memory that earlier models freed back to the OS (glibc), so RSS growth counts this model only.

    Without it, a runner built after another one reuses the freed heap pages and seems to cost nothing.
    """
    # Not glibc: RSS growth can then miss reused memory; nothing better is portable.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class _RssSampler:
    """Samples this process's resident memory in a thread; keeps the peak."""

    def __init__(self, interval_s: float = 0.002) -> None:
        gc.collect()
        _release_freed_memory()
        self.process = psutil.Process()
        self.interval_s = interval_s
        self.start_rss = self.process.memory_info().rss
        self.peak_rss = self.start_rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)

    @property
    def peak_increase_mb(self) -> float:
        return (self.peak_rss - self.start_rss) / 1e6


def build_and_measure_memory(
    build: Callable[[], Runner], inputs: list[torch.Tensor], device: str
) -> tuple[Runner, float]:
    """Create a runner and run a few batches, returning it and the peak memory that cost, in MB.

    CPU: growth of the process's resident memory above the level before the runner existed (weights,
    activations, workspaces). CUDA: `cuda_memory_mb`. Sampling runs only here, never during the timed
    loop, so it cannot disturb latency.
    """
    if device == "cuda":
        return _measure_cuda_memory(build, inputs)
    with _RssSampler() as sampler:
        runner = build()
        placed = runner.to_device(inputs)
        for _ in range(3):
            runner.run_on_device(placed)
    return runner, sampler.peak_increase_mb


def _measure_cuda_memory(build: Callable[[], Runner], inputs: list[torch.Tensor]) -> tuple[Runner, float]:
    """Peak bytes torch allocated, plus, for other runtimes, the device memory taken outside torch's
    allocator and still held (a TensorRT engine's weights and activation memory, onnxruntime's CUDA arena),
    which torch's statistics never see: the device's free memory before and after (cudaMemGetInfo, as
    NVML reports it), less what torch's own cache grew. Torch rows count torch's allocations only, so the
    kernels CUDA libraries load on first use do not land on whichever row ran first."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    allocated, reserved = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
    free = torch.cuda.mem_get_info()[0]
    runner = build()
    placed = runner.to_device(inputs)
    for _ in range(3):
        runner.run_on_device(placed)
    runner.synchronize()
    peak = torch.cuda.max_memory_allocated() - allocated
    if runner.backend != "torch":
        taken = free - torch.cuda.mem_get_info()[0]
        peak += max(0, taken - (torch.cuda.memory_reserved() - reserved))
    return runner, peak / 1e6
