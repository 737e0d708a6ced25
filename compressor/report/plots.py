"""Figures for reports: headless matplotlib (Agg), written atomically as PNG."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compressor.core.files import atomic_path


@dataclass(frozen=True)
class Point:
    label: str
    latency_ms: float
    metric: float


def accuracy_latency_plot(points: list[Point], baseline: Point, metric: str, title: str, path: Path) -> Path:
    """Accuracy against latency: each compressed variant labelled, the baseline marked apart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    axes.plot([p.latency_ms for p in points], [p.metric for p in points], "o-", color="tab:blue", label="pruned")
    for point in points:
        axes.annotate(point.label, (point.latency_ms, point.metric), textcoords="offset points", xytext=(5, 5))
    axes.plot([baseline.latency_ms], [baseline.metric], "s", color="tab:red", label=baseline.label)
    axes.set_xlabel("latency p50 (ms)")
    axes.set_ylabel(metric)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
    return path
