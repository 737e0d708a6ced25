"""Training on image files with and without DataLoader workers: time and history, side by side.

    python benchmarks/data_workers.py                     # CUDA, resnet18 at 224, 1,600 JPEGs
    python benchmarks/data_workers.py --device cpu --model tiny_cnn --workers 1

Writes an ImageFolder of 500x375 JPEGs (camera-sized, as users' data is) to a temporary folder, then
trains the same model on it once with COMPRESSOR_DATA_WORKERS=0 (files decoded in the main process)
and once with the default for the device (workers for CUDA; --workers N for another count),
alternating, and checks every run trains to the same history: workers must change the speed only.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from results_io import RESULTS_DIR, table, write_results

from compressor import commands
from compressor.core.environment import collect_environment
from compressor.core.handle import InputSpec
from compressor.data.imagefolder import ImageFileDataset
from compressor.data.loader import WORKERS_VARIABLE, loader_workers

HEADER = "| model | device | workers | epochs | images | seconds | speed-up | same history |"
CLASSES = 4


def write_jpegs(root: Path, per_class: int) -> None:
    """train/ and val/ class folders of smooth random 500x375 JPEGs (each class its own colour cast)."""
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("val", per_class // 4)):
        for label in range(CLASSES):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True)
            for index in range(count):
                pixels = rng.integers(0, 200, (30, 40, 3)) + np.eye(3, dtype=np.int64)[label % 3] * 55
                image = Image.fromarray(pixels.astype(np.uint8)).resize((500, 375), Image.BICUBIC)
                image.save(folder / f"{index}.jpg", quality=90)


def timed_training(model: str, data: Path, device: str, epochs: int, work: Path, workers: str) -> tuple:
    """(seconds, history) of one training run with $COMPRESSOR_DATA_WORKERS = `workers`."""
    os.environ[WORKERS_VARIABLE] = workers
    config = commands.train_config(model, device=device)
    start = time.perf_counter()
    _, result = commands.train(model, work / f"{workers}.pt", str(data), epochs, (224, 224), config, force=True)
    return time.perf_counter() - start, result.history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--per-class", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", help="the count to compare with none (default: the device's default)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="compressor-workers-") as scratch:
        work = Path(scratch)
        write_jpegs(work / "images", args.per_class)
        probe = ImageFileDataset([(str(next((work / "images").rglob("*.jpg"))), 0)], InputSpec.image((224, 224)))
        compared = args.workers or str(loader_workers(probe, args.device))
        runs: dict[str, list[tuple[float, list]]] = {}
        for workers in ("0", compared) * args.rounds:  # alternating: the machine's drift falls on both
            seconds, history = timed_training(args.model, work / "images", args.device, args.epochs, work, workers)
            runs.setdefault(workers, []).append((seconds, history))
    baseline = min(seconds for seconds, _ in runs["0"])
    same = all(history == runs["0"][0][1] for results in runs.values() for _, history in results)
    rows = []
    for workers in ("0", compared):
        seconds = min(s for s, _ in runs[workers])
        images = args.per_class * CLASSES * args.epochs
        cells = [args.model, args.device, workers, str(args.epochs), str(images), f"{seconds:.1f}"]
        rows.append("| " + " | ".join([*cells, f"{baseline / seconds:.2f}x", "yes" if same else "NO"]) + " |")
    env = collect_environment()
    note = (
        f"Measured on {env['gpu'] or env['cpu']} ({env['cpu_count']} cores), torch {env['torch']}; best of "
        f"{args.rounds} alternating runs each, training at 224x224 from 500x375 JPEGs, validation and BatchNorm "
        "re-estimation included."
    )
    records = {
        "none" if workers == "0" else "default": [
            {"seconds": seconds, "history": history} for seconds, history in tried
        ]
        for workers, tried in runs.items()
    }
    write_results(args.out, f"data-workers-{args.device}", table(HEADER, rows, note), records)


if __name__ == "__main__":
    main()
