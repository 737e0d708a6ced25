"""What every dataset provides: named splits of (uint8 CHW image, label) at a requested size."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset, Subset

SplitFactory = Callable[[str, tuple[int, int]], Dataset]


@dataclass
class DatasetBundle:
    """A dataset's identity and its splits. Images come out as uint8 tensors; models normalise them."""

    name: str
    task: str
    class_names: list[str]
    fingerprint: str  # changes whenever the data does; keys the reference-checkpoint cache
    native_size: tuple[int, int] | None  # the size the data is made at, if it has one
    split_factory: SplitFactory

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, split: str, image_size: tuple[int, int]) -> Dataset:
        """The `train` or `val` split with images resized to `image_size`."""
        if split not in ("train", "val"):
            raise ValueError(f"unknown split {split!r}")
        return self.split_factory(split, image_size)


class TensorImageDataset(Dataset):
    """Images and labels already in memory as tensors."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])


def deterministic_subset(dataset: Dataset, samples: int | None, seed: int = 0) -> Dataset:
    """At most `samples` items, chosen at random with a fixed seed (so every run sees the same ones)."""
    if samples is None or samples >= len(dataset):  # type: ignore[arg-type]
        return dataset
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randperm(len(dataset), generator=generator)[:samples].sort().values  # type: ignore[arg-type]
    return Subset(dataset, indices.tolist())
