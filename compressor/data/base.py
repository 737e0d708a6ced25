"""What every dataset provides: named train/val splits, shaped for a model's input spec."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset, Subset

from compressor.core.handle import InputSpec

SplitFactory = Callable[[str, InputSpec], Dataset]


@dataclass
class DatasetBundle:
    """A dataset's identity and its splits. Image sets yield uint8 tensors; the task normalises them."""

    name: str
    task: str
    class_names: list[str]
    fingerprint: str  # changes whenever the data does; keys the reference-checkpoint cache
    native_size: tuple[int, int] | None  # the size the data is made at, if it has one
    split_factory: SplitFactory
    # Image files: the (height, width) every one of them has, or None; `files_vary` when they differ.
    files_size: tuple[int, int] | None = None
    files_vary: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, split: str, spec: InputSpec) -> Dataset:
        """The `train` or `val` split, shaped for a model's input spec (image size, for images)."""
        if split not in ("train", "val"):
            raise ValueError(f"unknown split {split!r}")
        return self.split_factory(split, spec)


def in_val_split(key: str, val_percent: int = 20) -> bool:
    """Deterministic train/val assignment by a hash of a stable key (a relative path, a file name).

    Adding or removing other files never moves this one to the other split.
    """
    return hashlib.sha1(key.encode()).digest()[0] * 100 // 256 < val_percent


def deterministic_subset(dataset: Dataset, samples: int | None, seed: int = 0) -> Dataset:
    """At most `samples` items, chosen at random with a fixed seed (so every run sees the same ones)."""
    if samples is None or samples >= len(dataset):  # type: ignore[arg-type]
        return dataset
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randperm(len(dataset), generator=generator)[:samples].sort().values  # type: ignore[arg-type]
    return Subset(dataset, indices.tolist())
