"""onnxruntime's entropy calibration threshold, found with array operations instead of Python loops.

onnxruntime's `HistogramCollector.get_entropy_threshold` (TensorRT's KL-divergence window search) loops
in Python and is most of an entropy calibration's time. This builds the same windows, merged bins and
smoothing with numpy and sums in float64 (onnxruntime: float32), so it picks onnxruntime's window or
one whose divergence ties with it (`tests/test_quantize.py`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnxruntime.quantization.calibrate import HistogramCollector


def entropy_threshold(histogram: tuple[Any, ...], num_quantized_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The (low, high) range whose int8 quantization loses least information, as onnxruntime finds it.

    `histogram` is the collector's (counts, edges, min, max, ...) for one tensor; counts are integers.
    """
    counts, edges, min_value, max_value = histogram[:4]
    num_bins = counts.size
    zero_bin = num_bins // 2
    candidates = range(num_quantized_bins // 2, zero_bin + 1)
    below = np.concatenate(([0], np.cumsum(counts)))  # below[k]: the count of the bins before bin k
    divergences = [_divergence(counts, below, zero_bin - half, half, num_quantized_bins) for half in candidates]
    best = candidates[int(np.argmin(divergences))]
    low, high = edges[zero_bin - best], edges[min(zero_bin + best + 1, num_bins)]
    return (min_value if low < min_value else low), (max_value if high > max_value else high)


def _divergence(counts: np.ndarray, below: np.ndarray, start: int, half: int, num_quantized_bins: int) -> float:
    """KL divergence between the window counts[start : start + 2 * half + 1], its outliers folded into
    its end bins, and the same window merged into `num_quantized_bins` bins and spread back over the
    bins that held values (integer division of the counts, as onnxruntime does)."""
    end = min(start + 2 * half + 1, counts.size)
    window = counts[start:end]
    reference = window.copy()
    reference[0] += below[start]
    reference[-1] += below[-1] - below[end]
    merged = window.size // num_quantized_bins
    whole = num_quantized_bins * merged
    quantized = window[:whole].reshape(num_quantized_bins, merged).sum(axis=1).astype(np.int64)
    quantized[-1] += window[whole:].sum()
    holding = (reference[:whole] != 0).reshape(num_quantized_bins, merged).sum(axis=1)
    spread = np.zeros(num_quantized_bins, dtype=np.int64)
    spread[holding != 0] = quantized[holding != 0] / holding[holding != 0]  # truncated, as onnxruntime's
    candidate = np.zeros(window.size, dtype=np.int64)
    candidate[:whole] = np.repeat(spread, merged)
    p, q = _smoothed(reference), _smoothed(candidate)
    return float("inf") if p is None or q is None else float(np.sum(p * np.log(p / q)))


def _smoothed(counts: np.ndarray, eps: float = 1e-4) -> np.ndarray | None:
    """`counts` as a distribution with no zero bin (onnxruntime's `smooth_distribution`: each empty bin
    gets `eps`, taken evenly from the others), normalised; None when every bin is empty."""
    empty = counts == 0
    filled = counts.size - int(empty.sum())
    if not filled:
        return None
    smoothed = np.where(empty, eps, counts - eps * (counts.size - filled) / filled)
    return smoothed / smoothed.sum()


def use_fast_entropy_threshold(collector: HistogramCollector) -> None:
    """Make `collector` search its entropy thresholds with `entropy_threshold`."""
    collector.get_entropy_threshold = entropy_threshold  # type: ignore[method-assign]
