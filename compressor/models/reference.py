"""Where reference checkpoints are cached: a zoo model trained on a dataset once, on first use.

Nothing is downloaded: the first `compress bench mobilenet_v2 --data shapes` trains the reference
model with the default recipe (`training.checkpoints.load_or_train`) and stores it under
$COMPRESSOR_CACHE (default ~/.cache/compressor); `load_model` only reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

from compressor.core.handle import InputSpec
from compressor.data.base import DatasetBundle
from compressor.models.registry import ZooEntry


def cache_dir() -> Path:
    return Path(os.environ.get("COMPRESSOR_CACHE", "~/.cache/compressor")).expanduser()


def reference_path(entry: ZooEntry, bundle: DatasetBundle, spec: InputSpec) -> Path:
    size = "x".join(str(dim) for dim in spec.shape[-2:])  # images: HxW; text: max_length
    revision = f"-r{entry.revision}" if entry.revision > 1 else ""  # first revisions keep the names cached before
    return cache_dir() / "reference" / f"{entry.name}{revision}-{bundle.fingerprint}-{size}.pt"
