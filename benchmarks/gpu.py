"""GPU table: each model on torch CUDA in fp32, fp16 and bf16, and TensorRT engines where installed, one run.

    python benchmarks/gpu.py                              # mobilenet_v2 and resnet18, random weights
    python benchmarks/gpu.py --models resnet50 --weights reference

Every row's speed-up is against torch fp32 at the same batch size, measured in the same process. CUDA graph
p50: the torch model's forward replayed as one captured graph (runtime/cuda_graph.py), beside eager's p50.
`--device cpu` gives the same table for the CPU backends (a check of this script on a machine with no GPU).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from results_io import RESULTS_DIR, bench_models, table, write_results

from compressor.core.environment import collect_environment
from compressor.report.schema import Report, ResultRow

DEFAULT_MODELS = ["mobilenet_v2", "resnet18"]
HEADER = (
    "| model | precision | backend | batch | accuracy | p50 ms | FPS | speed-up vs torch fp32 | CUDA graph p50 ms "
    "| peak memory MB |"
)


def _reference(report: Report, batch: int) -> ResultRow:
    return next(r for r in report.results if r.backend == "torch" and r.precision == "fp32" and r.batch_size == batch)


def summarise(report: Report) -> list[str]:
    """One line per measured row, in the report's order."""
    lines = []
    for row in report.results:
        reference = _reference(report, row.batch_size)
        memory = f"{row.peak_memory_mb:.0f}" if row.peak_memory_mb is not None else "-"
        graph = (row.model_extra or {}).get("cuda_graph_latency_ms")
        graph_p50 = f"{graph['p50']:.2f}" if graph else "-"
        accuracy = f"{row.metrics[report.primary_metric]:.4f}"
        cells = [report.model, row.precision, row.backend, str(row.batch_size), accuracy, f"{row.latency_ms.p50:.2f}"]
        cells += [f"{row.fps:.0f}", f"{reference.latency_ms.p50 / row.latency_ms.p50:.2f}x", graph_p50, memory]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--weights", choices=["random", "reference"], default="random")
    parser.add_argument("--data", default="shapes")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--max-samples", type=int, default=500)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()

    weights = None if args.weights == "reference" else "random"
    options = {"data": args.data, "weights": weights, "device": args.device, "max_samples": args.max_samples}
    rows, reports = bench_models(args.models, summarise, batch_sizes=[1, 16], **options)
    env = collect_environment()
    note = (
        f"Measured on {env['gpu'] or env['cpu']}, torch {env['torch']}, TensorRT {env['tensorrt'] or 'not installed'}, "
        f"onnxruntime {env['onnxruntime']}; {args.data} val, 64x64 input, {args.weights} weights."
    )
    lines = table(HEADER, rows, note)
    write_results(args.out, f"gpu-{args.device}-{args.weights}", lines, reports)


if __name__ == "__main__":
    main()
