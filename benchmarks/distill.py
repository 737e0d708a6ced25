"""Distillation over several seeds: `compress distill` with its defaults, run once per seed.

    python benchmarks/distill.py                       # resnet18 -> mobilenet_v3_small on shapes, seeds 0 1 2
    python benchmarks/distill.py --seeds 0 --epochs 3  # a quicker look
    python benchmarks/distill.py --jobs 3              # the seeds side by side, the cores shared among them

Each seed is one `compress distill --compare-scratch` run (commands.distill): the teacher, the distilled student
and the same student trained on the labels alone are measured side by side in that run. Training on 2
CPU cores differs from machine to machine in the last digits, and a few points of top-1 over 5 epochs,
so the table gives each seed and the spread: a target met on one seed alone is not met. The teacher's
reference checkpoint trains on first use (about 10 minutes here); each seed then takes about 12.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any

from results_io import RESULTS_DIR, table, write_results
from seeds import SPREAD, add_seed_options, run_seeds, span

from compressor import commands
from compressor.core.environment import collect_environment
from compressor.methods.configs import Distill
from compressor.report.schema import Report, ResultRow

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

    def over_seeds(key: str, share: bool = False) -> str:
        return span([f[key] for f in figures], share)

    cells = [SPREAD, over_seeds("teacher"), over_seeds("distilled"), over_seeds("distilled_share", True)]
    cells += [over_seeds("scratch"), over_seeds("scratch_share", True), "", "", ""]
    return "| " + " | ".join(cells) + " |"


def distill_seed(options: dict[str, Any], seed: int, folder: Path) -> Report:
    """One seed's `compress distill --compare-scratch`, written under `folder`."""
    config = Distill(teacher=options["teacher"], epochs=options.get("epochs", 5), seed=seed, compare_scratch=True)
    report = commands.distill(options["student"], folder, config, data=options["data"], batch_sizes=[1])
    assert report is not None  # one process: this one measures
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="resnet18")
    parser.add_argument("--student", default="mobilenet_v3_small")
    parser.add_argument("--data", default="shapes")
    add_seed_options(parser)
    parser.add_argument("--epochs", type=int, default=None, help="default: compress distill's own")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--name", default="distill", help="results file name: NAME.md and NAME.json under --out")
    args = parser.parse_args()
    options: dict[str, Any] = {"teacher": args.teacher, "student": args.student, "data": args.data, "batch_sizes": [1]}
    options.update({"epochs": args.epochs} if args.epochs else {})
    rows, figures, records = [], [], {}
    reports = run_seeds(functools.partial(distill_seed, options), args.seeds, args.jobs, "distill")
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
