"""One reference model on torch and onnxruntime: `compress bench` as a table of every metric of its task.

    python benchmarks/reference_bench.py --model ssdlite320_mobilenet_v3_large --data shapes-det --batch-sizes 1
    python benchmarks/reference_bench.py --model vit_tiny --data shapes

The model's reference checkpoint trains on first use (the detector: 3 epochs, about 8 minutes on 2 cores;
vit_tiny: 30 epochs) and is cached. Writes results/bench-MODEL.md and .json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from results_io import RESULTS_DIR, bench_models, table, write_results

from compressor.core.environment import collect_environment
from compressor.report.schema import Report, ResultRow


def _row(report: Report, backend: str, batch: int) -> ResultRow:
    return next(r for r in report.results if r.backend == backend and r.batch_size == batch)


def header(report: Report, batch_sizes: list[int]) -> str:
    metrics = list(_row(report, "torch", batch_sizes[0]).metrics)
    one_size = len(batch_sizes) == 1
    timing = ["p50 ms", "FPS"] if one_size else [f"p50 ms bs{batch_sizes[0]}", f"FPS bs{batch_sizes[-1]}"]
    return "| " + " | ".join(["backend", *metrics, *timing, "size MB", "MMACs"]) + " |"


def rows(report: Report, batch_sizes: list[int]) -> list[str]:
    lines = []
    for backend in ("torch", "onnxruntime"):
        first, last = _row(report, backend, batch_sizes[0]), _row(report, backend, batch_sizes[-1])
        cells = [backend, *(f"{value:.4f}" for value in first.metrics.values())]
        cells += [f"{first.latency_ms.p50:.2f}", f"{last.fps:.1f}" if last.fps < 100 else f"{last.fps:.0f}"]
        cells += [f"{first.size_mb:.2f}", f"{(first.macs or 0) / 1e6:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", default="shapes")
    parser.add_argument("--batch-sizes", default="1,16", help="comma-separated; the first timed for p50, the last FPS")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    reports: dict[str, Report] = {}

    def collect(report: Report) -> list[str]:
        reports["report"] = report
        return rows(report, batch_sizes)

    lines, records = bench_models(
        [args.model], collect, data=args.data, backends=["torch", "onnxruntime"], batch_sizes=batch_sizes
    )
    env = collect_environment()
    note = (
        f"Measured on {env['cpu']} ({env['cpu_count']} cores), torch {env['torch']}, onnxruntime "
        f"{env['onnxruntime']}; {args.data} val, reference weights."
    )
    name = f"bench-{Path(args.model).name}"
    write_results(args.out, name, table(header(reports["report"], batch_sizes), lines, note), records)


if __name__ == "__main__":
    main()
