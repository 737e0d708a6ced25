"""Reproduce the README's results table: each reference model on torch eager vs onnxruntime, one run.

    python benchmarks/backends.py                          # every torchvision zoo model, random weights
    python benchmarks/backends.py --models mobilenet_v2 --weights reference

Speed is reported as ratios of rows measured side by side in the same process (this machine is shared
and noisy); accuracy needs trained weights (`--weights reference` trains on first use, minutes each).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from results_io import RESULTS_DIR, bench_models, table, write_results

from compressor.core.environment import collect_environment
from compressor.report.schema import Report

DEFAULT_MODELS = ["mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "densenet121", "resnet18", "resnet50"]


def _row(report: Report, backend: str, batch: int):
    return next(r for r in report.results if r.backend == backend and r.batch_size == batch)


def summarise(report: Report, weights: str) -> str:
    cells = [report.model, weights]
    torch1, ort1 = _row(report, "torch", 1), _row(report, "onnxruntime", 1)
    torch16, ort16 = _row(report, "torch", 16), _row(report, "onnxruntime", 16)
    if weights == "random":
        cells += ["- (random weights)", "-"]
    else:
        cells += [f"{torch1.metrics['top1']:.4f}", f"{ort1.metrics['top1']:.4f}"]
    cells += [
        f"{torch1.latency_ms.p50:.2f}",
        f"{ort1.latency_ms.p50:.2f}",
        f"{torch1.latency_ms.p50 / ort1.latency_ms.p50:.2f}x",
    ]
    cells += [f"{torch16.fps:.0f}", f"{ort16.fps:.0f}", f"{ort16.fps / torch16.fps:.2f}x"]
    cells += [f"{ort1.size_mb:.1f}", f"{(torch1.macs or 0) / 1e6:.0f}"]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--weights", choices=["random", "reference"], default="random")
    parser.add_argument("--data", default="shapes")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()

    header = (
        "| model | weights | top1 torch | top1 onnxruntime | p50 ms bs1 torch | p50 ms bs1 onnxruntime | "
        "onnxruntime speed-up bs1 | FPS bs16 torch | FPS bs16 onnxruntime | onnxruntime speed-up bs16 | "
        "ONNX MB | MMACs |"
    )
    weights = None if args.weights == "reference" else "random"
    rows, reports = bench_models(
        args.models,
        lambda report: [summarise(report, args.weights)],
        data=args.data,
        weights=weights,
        backends=["torch", "onnxruntime"],
        batch_sizes=[1, 16],
    )
    env = collect_environment()
    note = (
        f"Measured on {env['cpu']} ({env['cpu_count']} cores), torch {env['torch']}, "
        f"onnxruntime {env['onnxruntime']}; {args.data} val, 64x64 input."
    )
    lines = table(header, rows, note)
    write_results(args.out, f"backends-{args.weights}", lines, reports)


if __name__ == "__main__":
    main()
