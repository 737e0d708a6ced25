"""Pruning's fine-tuned accuracy over several seeds: a case of benchmarks/prune.py, fine-tuned once per seed.

    python benchmarks/prune_seeds.py --jobs 3                     # the README's two CNN cases, seeds 0 1 2
    python benchmarks/prune_seeds.py --cases resnet18-structured-30 --seeds 0   # a quicker look

The pruning table gives one fine-tuning run per case; fine-tuning on 2 CPU cores moves top-1 by points
from seed to seed, so this runs the same `compress prune` (commands.prune, the case's options, `seed=N` for
the fine-tuning) once per seed from the same cached reference checkpoint, and gives each seed's accuracy
and the spread. Only accuracy: the speed-ups do not depend on the seed (the pruned shapes do not).
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any

from prune import CASES
from results_io import RESULTS_DIR, table, write_results
from seeds import SPREAD, add_seed_options, run_seeds, span, threads_per_job

from compressor import commands
from compressor.core.environment import collect_environment
from compressor.data import load_dataset
from compressor.training.checkpoints import load_or_train

DEFAULT_CASES = ["mobilenet_v2-structured-50", "resnet18-structured-30"]
HEADER = "| case | seed | metric | reference | pruned, fine-tuned | drop (pt) | fine-tune epochs |"


def prune_seed(case_name: str, epochs: int, seed: int, folder: Path) -> dict[str, Any]:
    """One `compress prune` of the case, fine-tuned `epochs` with seed `seed`, written under `folder`."""
    case = CASES[case_name]
    request = case.request.model_copy(update={"finetune_epochs": epochs})
    report = commands.prune(
        case.model, folder, request, data=case.data, weights=case.weights, batch_sizes=[1], seed=seed
    )
    metric = report.primary_metric
    base, pruned = (
        next(r for r in report.results if r.variant == variant and r.backend == "onnxruntime")
        for variant in ("baseline", "pruned")
    )
    return {"seed": seed, "metric": metric, "reference": base.metrics[metric], "pruned": pruned.metrics[metric]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=DEFAULT_CASES)
    add_seed_options(parser)
    parser.add_argument("--epochs", type=int, default=None, help="fine-tuning epochs; default: each case's own")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--name", default="prune-seeds", help="results file name: NAME.md and NAME.json under --out")
    args = parser.parse_args()
    rows, records = [], {}
    for name in args.cases:
        case = CASES[name]
        if case.weights == "random" or case.build is not None or not case.request.finetune_epochs:
            parser.error(f"{name}: only cases fine-tuned from a zoo reference checkpoint have a seed spread")
        load_or_train(
            case.model, load_dataset(case.data)
        )  # its reference trains here once, not in every seed's process
        epochs = args.epochs or case.request.finetune_epochs
        figures = run_seeds(functools.partial(prune_seed, name, epochs), args.seeds, args.jobs, "prune-seeds")
        for seed_figures in figures:
            drop = (seed_figures["reference"] - seed_figures["pruned"]) * 100
            cells = [name, str(seed_figures["seed"]), seed_figures["metric"], f"{seed_figures['reference']:.4f}"]
            rows.append("| " + " | ".join([*cells, f"{seed_figures['pruned']:.4f}", f"{drop:.2f}", str(epochs)]) + " |")
            print(rows[-1], flush=True)
        if len(figures) > 1:
            pruned = span([f["pruned"] for f in figures])
            drops = span([(f["reference"] - f["pruned"]) * 100 for f in figures], digits=2)
            rows.append("| " + " | ".join([name, SPREAD, figures[0]["metric"], "", pruned, drops, ""]) + " |")
        records[name] = {"request": vars(case.request), "seeds": figures}
    env = collect_environment()
    note = (
        f"Measured on {env['cpu']} ({env['cpu_count']} cores), torch {env['torch']}, onnxruntime {env['onnxruntime']}: "
        "each case's `compress prune` (benchmarks/prune.py's options) from one cached reference checkpoint, its "
        "fine-tuning seeded N; onnxruntime's accuracy on the full val split. Torch threads per seed: "
        f"{threads_per_job(args.jobs)}" + (f", {args.jobs} seeds at once." if args.jobs > 1 else ".")
    )
    write_results(args.out, args.name, table(HEADER, rows, note), records)


if __name__ == "__main__":
    main()
