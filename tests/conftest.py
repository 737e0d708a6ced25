"""Shared fixtures: an isolated cache, a small ImageFolder of real PNG files, a quickly trained model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from compressor.data.shapes import render_sample

WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1:
    # pytest-xdist runs WORKERS test processes at once: each takes its share of the cores (onnxruntime
    # follows torch's count; processes a test starts follow OMP_NUM_THREADS), or they oversubscribe them
    # and the suite runs slower than on one worker.
    THREADS = max(1, (os.cpu_count() or 1) // WORKERS)
    torch.set_num_threads(THREADS)
    os.environ["OMP_NUM_THREADS"] = str(THREADS)

FOLDER_CLASSES = ("circle", "square", "star")  # labels 0, 2, 5 of the shapes generator
FOLDER_LABELS = (0, 2, 5)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the user's ~/.cache/compressor."""
    cache = tmp_path_factory.getbasetemp() / "compressor-cache"
    monkeypatch.setenv("COMPRESSOR_CACHE", str(cache))
    return cache


@pytest.fixture(autouse=True)
def brief_speed_trials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The int8 speed tuner's trials, the verdicts' head-to-head rounds and the op-type profile, timed
    briefly: tests check what they record and decide, not how well they time (benchmarks/ measure
    that), and full-length rounds cost the suite minutes."""
    from compressor.measurement import head_to_head, op_profile
    from compressor.methods import speed_tune

    monkeypatch.setattr(speed_tune, "TIMING_SECONDS", 0.05)
    monkeypatch.setattr(speed_tune, "CONFIRM_ROUNDS", 1)
    monkeypatch.setattr(speed_tune, "TIMING_ROUNDS", 2)
    monkeypatch.setattr(head_to_head, "VERDICT_ROUNDS", 0)  # verdicts from the rows; tests that check rounds set it
    monkeypatch.setattr(head_to_head, "VERDICT_SECONDS", 0.01)
    monkeypatch.setattr(head_to_head, "VERDICT_ITERATIONS", 2)
    monkeypatch.setattr(op_profile, "SETTLE_SECONDS", 0.05)


def write_image_folder(
    root: Path, per_class: int, seed: int, image_size: int | tuple[int, int] = 48, fmt: str = "png"
) -> Path:
    """Class folders of images drawn by the shapes generator at a size the models must resize from."""
    for name, label in zip(FOLDER_CLASSES, FOLDER_LABELS, strict=True):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            rng = np.random.default_rng([seed, label, index])
            Image.fromarray(render_sample(rng, label, image_size)).save(folder / f"{index:03d}.{fmt}")
    return root


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ImageFolder with train/ and val/ splits: 3 classes, 24 train and 8 val images each."""
    root = tmp_path_factory.mktemp("imagefolder")
    write_image_folder(root / "train", per_class=24, seed=1)
    write_image_folder(root / "val", per_class=8, seed=2, fmt="jpg")
    return root


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny_cnn trained for two epochs on shapes: weights that are not random, in seconds."""
    from compressor import commands
    from compressor.training.fit import TrainConfig

    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    commands.train("tiny_cnn", path, data="shapes", epochs=2, config=TrainConfig(lr=5e-3))
    return path


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()
