"""A zoo model's reference checkpoint over several seeds: its reference recipe trained once per seed.

    python benchmarks/reference_seeds.py --model mobilenet_v2 --jobs 3   # seeds 0 1 2 side by side
    python benchmarks/reference_seeds.py --seeds 0 --epochs 1 --out /tmp/look   # a quick look

The reference checkpoint `compress bench MODEL` trains on first use is one seed's run (seed 0, the
training default). Training on 2 CPU cores differs from machine to machine in the last digits, and that
grows into points of top-1 (mobilenet_v2's reference gave 0.9480 on one machine and 0.9125 on another),
so this trains the same recipe (the zoo entry's reference epochs and training recipe, as
`training.checkpoints.ensure_reference_checkpoint` does) on each seed and gives every seed's top-1 and the
spread. Each seed trains into a temporary directory: the cached reference is neither read nor written. Seed 0 is the
cached reference's seed; its figure still differs with the CPU and the threads it trains on.
mobilenet_v2's 10 epochs took 27 minutes for 3 seeds side by side on 2 cores.
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path
from typing import Any

from results_io import RESULTS_DIR, table, write_results
from seeds import SPREAD, add_seed_options, run_seeds, span, threads_per_job

from compressor import commands
from compressor.core.environment import collect_environment


def train_seed(model: str, data: str, epochs: int, seed: int, folder: Path) -> dict[str, Any]:
    """`compress train MODEL --epochs EPOCHS --seed SEED` (the model's recipe) into `folder`, then the
    checkpoint's accuracy on the full val split as `compress bench` measures it (torch)."""
    folder.mkdir(parents=True)
    checkpoint = folder / f"{model}-seed{seed}.pt"
    config = commands.train_config(model, seed=seed)  # the zoo entry's train_recipe, as the reference's
    start = time.perf_counter()
    _, result = commands.train(model, checkpoint, data=data, epochs=epochs, config=config)
    minutes = (time.perf_counter() - start) / 60
    report = commands.bench(str(checkpoint), data=data, backends=["torch"], batch_sizes=[1])
    scored = next(row for row in report.results if row.backend == "torch")
    return {
        "seed": seed,
        "epochs": epochs,
        "best_epoch": result.best_epoch,
        "training_minutes": minutes,
        "training_val": result.best_metric,  # the training's own validation of its best epoch
        "metric": report.primary_metric,
        "value": scored.metrics[report.primary_metric],  # the checkpoint as bench scores it
        "recipe": {key: getattr(config, key) for key in ("lr", "weight_decay", "warmup_fraction", "max_grad_norm")},
        "report": report.model_dump(mode="json", by_alias=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenet_v2")
    parser.add_argument("--data", default="shapes")
    add_seed_options(parser)
    parser.add_argument("--epochs", type=int, default=None, help="default: the model's reference epochs")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--name", default=None, help="results file name: NAME.md and NAME.json under --out (reference-seeds-MODEL)"
    )
    args = parser.parse_args()
    entry = commands.get_entry(args.model)
    epochs = args.epochs or entry.reference_epochs
    work = functools.partial(train_seed, args.model, args.data, epochs)
    figures = run_seeds(work, args.seeds, args.jobs, "reference-seeds")
    metric = figures[0]["metric"]
    header = f"| seed | {metric} | best epoch | epochs | training minutes |"
    rows = []
    for seed_figures in figures:
        cells = [seed_figures["seed"], f"{seed_figures['value']:.4f}", seed_figures["best_epoch"], epochs]
        row = "| " + " | ".join(map(str, [*cells, f"{seed_figures['training_minutes']:.1f}"])) + " |"
        rows.append(row)
        print(row, flush=True)
    if len(figures) > 1:
        values = [f["value"] for f in figures]
        minutes = span([f["training_minutes"] for f in figures], digits=1)
        rows.append("| " + " | ".join([SPREAD, span(values), "", "", minutes]) + " |")
    env = collect_environment()
    note = (
        f"Measured on {env['cpu']} ({env['cpu_count']} cores), torch {env['torch']}: `compress train "
        f"{args.model} --data {args.data} --epochs {epochs} --seed N` (the {args.model} reference recipe"
        + ("" if epochs == entry.reference_epochs else f", here {epochs} of its {entry.reference_epochs} epochs")
        + f"; the cached reference trains with seed 0), then `compress bench` of the checkpoint on torch: {metric} "
        f"on the full val split, best epoch kept. Torch threads per seed: {threads_per_job(args.jobs)}"
        + (f", {args.jobs} seeds at once sharing the cores (the training minutes too)." if args.jobs > 1 else ".")
    )
    records = {str(f["seed"]): f for f in figures}
    write_results(args.out, args.name or f"reference-seeds-{args.model}", table(header, rows, note), records)


if __name__ == "__main__":
    main()
