"""Training with the loss read once a step (a GPU sync each step) against once every half second, side by side.

    python benchmarks/loss_reads.py                       # CUDA, mobilenet_v2 on shapes, 2 epochs
    python benchmarks/loss_reads.py --device cpu --model tiny_cnn --epochs 1

Trains the same model twice per round, alternating: with `train.LOSS_READ_INTERVAL_S` set to 0 (the
running loss read after every step, as training did before 2026-12-04) and at its default. On a GPU,
reading a loss waits for every queued step; this measures what those waits cost a training run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from results_io import RESULTS_DIR, table, write_results

from compressor import commands
from compressor.core.environment import collect_environment
from compressor.training import fit as train

HEADER = "| model | device | loss read | epochs | seconds | speed-up | final loss |"
EVERY_STEP = 0.0


def timed_training(model: str, data: str, device: str, epochs: int, work: Path, interval: float) -> tuple:
    """(seconds, history) of one training run with the loss read at most every `interval` seconds."""
    train.LOSS_READ_INTERVAL_S = interval
    config = commands.train_config(model, device=device)
    start = time.perf_counter()
    _, result = commands.train(model, work / f"{interval}.pt", data, epochs, config=config, force=True)
    return time.perf_counter() - start, result.history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenet_v2")
    parser.add_argument("--data", default="shapes")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()

    default = train.LOSS_READ_INTERVAL_S
    runs: dict[float, list[tuple[float, list]]] = {}
    with tempfile.TemporaryDirectory(prefix="compressor-loss-reads-") as scratch:
        for interval in (EVERY_STEP, default) * args.rounds:  # alternating: the machine's drift falls on both
            seconds, history = timed_training(args.model, args.data, args.device, args.epochs, Path(scratch), interval)
            runs.setdefault(interval, []).append((seconds, history))
    baseline = min(seconds for seconds, _ in runs[EVERY_STEP])
    rows = []
    for interval, tried in runs.items():
        seconds = min(s for s, _ in tried)
        read = "every step" if interval == EVERY_STEP else f"every {interval:g} s"
        final = ", ".join(f"{history[-1]['loss']:.4f}" for _, history in tried)
        cells = [args.model, args.device, read, str(args.epochs), f"{seconds:.1f}", f"{baseline / seconds:.2f}x", final]
        rows.append("| " + " | ".join(cells) + " |")
    env = collect_environment()
    note = (
        f"Measured on {env['gpu'] or env['cpu']} ({env['cpu_count']} cores), torch {env['torch']}; best of "
        f"{args.rounds} alternating runs each on {args.data}, validation included; final loss: each run's last epoch."
    )
    records = {f"{interval:g}": [{"seconds": s, "history": h} for s, h in tried] for interval, tried in runs.items()}
    write_results(args.out, f"loss-reads-{args.device}", table(HEADER, rows, note), records)


if __name__ == "__main__":
    main()
