"""Reference checkpoints: a zoo model trained on a dataset once, on first use, and cached.

Nothing is downloaded: the first `compress bench mobilenet_v2 --data shapes` trains the reference
model with the default recipe and stores it under $COMPRESSOR_CACHE (default ~/.cache/compressor).
"""

from __future__ import annotations

import os
from pathlib import Path

from compressor.data.base import DatasetBundle
from compressor.models.handle import InputSpec
from compressor.models.registry import ZooEntry
from compressor.progress import info


def cache_dir() -> Path:
    return Path(os.environ.get("COMPRESSOR_CACHE", "~/.cache/compressor")).expanduser()


def reference_path(entry: ZooEntry, bundle: DatasetBundle, spec: InputSpec) -> Path:
    size = "x".join(str(dim) for dim in spec.shape[-2:])  # images: HxW; text: max_length
    revision = f"-r{entry.revision}" if entry.revision > 1 else ""  # first revisions keep the names cached before
    return cache_dir() / "reference" / f"{entry.name}{revision}-{bundle.fingerprint}-{size}.pt"


def ensure_reference_checkpoint(entry: ZooEntry, bundle: DatasetBundle, spec: InputSpec) -> Path:
    """The cached reference checkpoint's path, training and saving it first if it is missing."""
    path = reference_path(entry, bundle, spec)
    if path.is_file():
        return path
    from compressor.commands.training import train_handle  # the training pipeline sits above the model layer
    from compressor.models.loading import build_zoo_handle

    info(
        f"No reference checkpoint for {entry.name} on {bundle.name} yet: training one now "
        f"({entry.reference_epochs} epochs; cached at {path}). Pass --weights random to skip."
    )
    from compressor.train import TrainConfig

    handle = build_zoo_handle(entry, bundle, spec)
    train_handle(handle, bundle, path, epochs=entry.reference_epochs, config=TrainConfig(**entry.train_recipe))
    return path
