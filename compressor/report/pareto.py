"""The Pareto front: the points no other point beats on every objective at once.

Shared by the search (which candidates are worth keeping) and the HTML report (which points to join).
"""

from __future__ import annotations

from collections.abc import Sequence


def dominates(a: Sequence[float], b: Sequence[float], maximize: Sequence[bool]) -> bool:
    """`a` is at least as good as `b` on every objective and better on one."""
    at_least = all((x >= y) if up else (x <= y) for x, y, up in zip(a, b, maximize, strict=True))
    better = any((x > y) if up else (x < y) for x, y, up in zip(a, b, maximize, strict=True))
    return at_least and better


def pareto_front(points: Sequence[Sequence[float]], maximize: Sequence[bool]) -> list[int]:
    """Indices of the non-dominated points, in input order. `maximize[i]` says which way objective i is better."""
    return [i for i, p in enumerate(points) if not any(dominates(q, p, maximize) for q in points)]
