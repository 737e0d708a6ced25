"""A ceiling on how much memory one step may add, so that a runaway library call fails in Python instead of
taking the machine down.

torch-pruning's channel map can grow without bound on some models (Swin's window reshapes) until the
kernel kills the process; under the ceiling such a call raises MemoryError instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psutil

GIB = 1 << 30
MAX_GROWTH = 4 * GIB
MIN_GROWTH = 1 * GIB


def growth_allowance() -> int:
    """How much a guarded step may add: 4 GiB, or half the memory free now if that is less (1 GiB at least)."""
    return max(MIN_GROWTH, min(MAX_GROWTH, psutil.virtual_memory().available // 2))


@contextmanager
def memory_ceiling(growth: int) -> Iterator[None]:
    """Inside the block the process's address space may grow by `growth` bytes at most (allocations past
    it raise MemoryError); restored after. Linux and other systems with RLIMIT_AS; elsewhere no ceiling."""
    try:
        import resource
    except ImportError:  # Windows
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = psutil.Process().memory_info().vms + growth
    for limit in (soft, hard):
        if limit != resource.RLIM_INFINITY:
            ceiling = min(ceiling, limit)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    except (ValueError, OSError):  # a system that will not lower it: run without
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
