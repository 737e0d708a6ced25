"""Distillation over several seeds: `compress distill` with its defaults, run once per seed.

    python benchmarks/distill.py                       # resnet18 -> mobilenet_v3_small on shapes, seeds 0 1 2
    python benchmarks/distill.py --seeds 0 --epochs 3  # a quicker look
    python benchmarks/distill.py --jobs 3              # the seeds side by side, the cores shared among them

Each seed is one `compress distill --compare-scratch` run (api.distill): the teacher, the distilled student
and the same student trained on the labels alone are measured side by side in that run. Training on 2
CPU cores differs from machine to machine in the last digits, and a few points of top-1 over 5 epochs,
so the table gives each seed and the spread: a target met on one seed alone is not met. The teacher's
reference checkpoint trains on first use (about 10 minutes here); each seed then takes about 12.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
from results_io import RESULTS_DIR, table, write_results

from compressor import api
from compressor.environment import collect_environment
from compressor.report import Report, ResultRow

HEADER = (
    "| seed | teacher top1 | distilled top1 | distilled / teacher | scratch top1 | scratch / teacher | "
    "distilled onnxruntime ms bs1 | teacher onnxruntime ms bs1 | ONNX MB distilled / teacher |"
)


def _row(report: Report, variant: str) -> ResultRow:
    return next(r for r in report.results if r.variant == variant and r.backend == "onnxruntime" and r.batch_size == 1)


def summarise(seed: int, report: Report) -> tuple[str, dict[str, float]]:
    """The seed's table row and the figures the spread is taken over."""
    metric = report.primary_metric
    teacher, distilled, scratch = (_row(report, name) for name in ("teacher", "distilled", "scratch"))
    figures = {
        "teacher": teacher.metrics[metric],
        "distilled": distilled.metrics[metric],
        "scratch": scratch.metrics[metric],
    }
    figures["distilled_share"] = figures["distilled"] / figures["teacher"]
    figures["scratch_share"] = figures["scratch"] / figures["teacher"]
    cells = [
        str(seed),
        f"{figures['teacher']:.4f}",
        f"{figures['distilled']:.4f}",
        f"{figures['distilled_share']:.1%}",
        f"{figures['scratch']:.4f}",
        f"{figures['scratch_share']:.1%}",
        f"{distilled.latency_ms.p50:.2f}",
        f"{teacher.latency_ms.p50:.2f}",
        f"{distilled.size_mb:.1f} / {teacher.size_mb:.1f}",
    ]
    return "| " + " | ".join(cells) + " |", figures


def spread(figures: list[dict[str, float]]) -> str:
    """One row: the lowest, mean and highest of each accuracy figure over the seeds."""

    def span(key: str, share: bool = False) -> str:
        values = [f[key] for f in figures]
        low, mean, high = min(values), statistics.mean(values), max(values)
        return f"{low:.1%} / {mean:.1%} / {high:.1%}" if share else f"{low:.4f} / {mean:.4f} / {high:.4f}"

    cells = ["min / mean / max", span("teacher"), span("distilled"), span("distilled_share", True)]
    cells += [span("scratch"), span("scratch_share", True), "", "", ""]
    return "| " + " | ".join(cells) + " |"


def distill_seed(seed: int, folder: Path, threads: int, options: dict[str, Any]) -> Report:
    """One seed's `compress distill --compare-scratch`, on `threads` of the cores."""
    torch.set_num_threads(threads)
    report = api.distill(seed=seed, output_dir=folder / f"seed{seed}", compare_scratch=True, **options)
    assert report is not None  # one process: this one measures
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="resnet18")
    parser.add_argument("--student", default="mobilenet_v3_small")
    parser.add_argument("--data", default="shapes")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="default: compress distill's own")
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at once, each on its share of the cores")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--name", default="distill", help="results file name: NAME.md and NAME.json under --out")
    args = parser.parse_args()
    options: dict[str, Any] = {"teacher": args.teacher, "student": args.student, "data": args.data, "batch_sizes": [1]}
    options.update({"epochs": args.epochs} if args.epochs else {})
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    rows, figures, records = [], [], {}
    spawn = multiprocessing.get_context("spawn")  # no fork of a process whose torch may hold threads
    with (
        tempfile.TemporaryDirectory(prefix="compressor-bench-distill-") as scratch,
        ProcessPoolExecutor(max_workers=args.jobs, mp_context=spawn) as pool,
    ):
        futures = [pool.submit(distill_seed, seed, Path(scratch), threads, options) for seed in args.seeds]
        reports = [future.result() for future in futures]
    for seed, report in zip(args.seeds, reports, strict=True):
        row, seed_figures = summarise(seed, report)
        rows.append(row)
        figures.append(seed_figures)
        records[str(seed)] = {"figures": seed_figures, "report": report.model_dump(mode="json", by_alias=True)}
        print(row, flush=True)
    if len(figures) > 1:
        rows.append(spread(figures))
    env = collect_environment()
    epochs = f"{args.epochs} epochs" if args.epochs else "its default epochs"
    note = (
        f"Measured on {env['cpu']} ({env['cpu_count']} cores), torch {env['torch']}, onnxruntime "
        f"{env['onnxruntime']}: `compress distill --teacher {args.teacher} --student {args.student} --data "
        f"{args.data} --compare-scratch --seed N` ({epochs}), the full val split. Latency: one run's "
        "p50 on onnxruntime, batch 1"
        + (f", timed while the other seeds ran ({args.jobs} at once)." if args.jobs > 1 else ".")
    )
    write_results(args.out, args.name, table(HEADER, rows, note), records)


if __name__ == "__main__":
    main()
