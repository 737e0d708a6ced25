"""Every results table, one command each, run one after another (hours on 2 cores; reference checkpoints
train on first use and are cached):

    python benchmarks/all.py              # run them all (the GPU ones only where torch sees CUDA)
    python benchmarks/all.py --dry-run    # list the commands and the results file each writes
    python benchmarks/all.py --only prune distill

Never side by side: each measures speed as ratios within its own runs, and a second benchmark on the
same cores would skew them. A table on a page names its command here; tests/test_results_tables.py
checks that every table row the README shows is in the results file its command writes.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Benchmark:
    results: str  # benchmarks/results/RESULTS.md and .json
    command: str  # as run from the repository root
    gpu: bool = False  # run only where torch sees a CUDA GPU


BENCHMARKS = (
    Benchmark("backends-reference", "python benchmarks/backends.py --models mobilenet_v2 --weights reference"),
    Benchmark("backends-random", "python benchmarks/backends.py"),
    Benchmark(
        "bench-ssdlite320_mobilenet_v3_large",
        "python benchmarks/reference_bench.py --model ssdlite320_mobilenet_v3_large --data shapes-det --batch-sizes 1",
    ),
    Benchmark("bench-vit_tiny", "python benchmarks/reference_bench.py --model vit_tiny --data shapes"),
    Benchmark("distill", "python benchmarks/distill.py --jobs 3"),
    Benchmark("reference-seeds-mobilenet_v2", "python benchmarks/reference_seeds.py --model mobilenet_v2 --jobs 3"),
    Benchmark("quantize-shapes-reference-64x64", "python benchmarks/quantize.py --models mobilenet_v2 densenet121"),
    Benchmark(
        "quantize-shapes-random-224x224",
        "python benchmarks/quantize.py --models mobilenet_v2 resnet18 densenet121 --weights random --image-size 224",
    ),
    Benchmark("openvino-shapes-random-224x224", "python benchmarks/openvino_backend.py"),
    Benchmark("tuner-noise", "python benchmarks/tuner_noise.py --trials 12"),
    Benchmark("prune", "python benchmarks/prune.py"),
    Benchmark("prune-seeds", "python benchmarks/prune_seeds.py --jobs 3"),
    Benchmark("prune-attention", "python benchmarks/prune.py --name prune-attention"),
    Benchmark("prune-bert", "python benchmarks/prune.py --name prune-bert"),
    Benchmark("prune-text-heads", "python benchmarks/prune.py --name prune-text-heads"),
    Benchmark("prune-vit-heads", "python benchmarks/prune.py --name prune-vit-heads"),
    Benchmark("recipes", "python benchmarks/recipes.py"),
    Benchmark("headline", "python benchmarks/headline.py"),  # from the quantize and prune results above
    Benchmark("hf-image", "python benchmarks/hf_image.py"),
    Benchmark("gpu-cuda-random", "python benchmarks/gpu.py", gpu=True),
    Benchmark("data-workers-cuda", "python benchmarks/data_workers.py", gpu=True),
    Benchmark("loss-reads-cuda", "python benchmarks/loss_reads.py", gpu=True),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="list the commands without running them")
    parser.add_argument("--only", nargs="+", metavar="RESULTS", help="just these results files' commands")
    args = parser.parse_args()
    chosen = [b for b in BENCHMARKS if not args.only or b.results in args.only]
    if args.only and len(chosen) < len(set(args.only)):
        known = ", ".join(b.results for b in BENCHMARKS)
        parser.error(f"unknown results name in {' '.join(args.only)}; known: {known}")
    if args.dry_run:
        for benchmark in chosen:
            where = "  (CUDA GPU only)" if benchmark.gpu else ""
            print(f"{benchmark.command}  # -> benchmarks/results/{benchmark.results}.md/.json{where}")
        return
    import torch  # only to run: the listing needs no torch

    for benchmark in chosen:
        if benchmark.gpu and not torch.cuda.is_available():
            print(f"== skipped (no CUDA GPU): {benchmark.command}", flush=True)
            continue
        print(f"== {benchmark.command}", flush=True)
        subprocess.run([sys.executable, *shlex.split(benchmark.command)[1:]], cwd=REPO, check=True)


if __name__ == "__main__":
    main()
