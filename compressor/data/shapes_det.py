"""The built-in procedural detection set `shapes-det`: several shapes per image, with boxes and labels.

Drawn with the same primitives as `shapes` (gradient background, clutter, rotated shapes, noise) at
320x320, from a random stream per (seed, split, index), so any image can be regenerated alone and
nothing is held in memory. Boxes are the tight bounds of each drawn object's pixels.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from compressor.core.errors import DataError
from compressor.core.handle import InputSpec
from compressor.data.base import DatasetBundle
from compressor.data.shapes import SHAPE_CLASSES, add_noise, draw_background, draw_object

DETECTION_CLASSES: tuple[str, ...] = ("circle", "triangle", "square", "star", "cross", "ring")
SPLIT_SIZES: dict[str, int] = {"train": 1200, "val": 300}
DEFAULT_SIZE = 320
_SPLIT_CODES = {"train": 10, "val": 11}
OBJECTS_PER_IMAGE = (1, 5)  # half-open range
RADIUS_FRACTION = (0.06, 0.18)  # of the image side
CLUTTER_ITEMS = (2, 10)
_SHAPE_INDEX = {name: SHAPE_CLASSES.index(name) for name in DETECTION_CLASSES}


def _place_objects(rng: np.random.Generator, size: int, count: int) -> list[tuple[tuple[float, float], float]]:
    """Centres and radii of up to `count` objects that do not overlap much (rejection sampling)."""
    placed: list[tuple[tuple[float, float], float]] = []
    for _ in range(count * 20):
        if len(placed) == count:
            break
        radius = float(rng.uniform(*RADIUS_FRACTION) * size)
        centre = (float(rng.uniform(radius, size - radius)), float(rng.uniform(radius, size - radius)))
        if all(np.hypot(centre[0] - c[0], centre[1] - c[1]) > 0.9 * (radius + r) for c, r in placed):
            placed.append((centre, radius))
    return placed


def render_detection_sample(
    rng: np.random.Generator, size: int = DEFAULT_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image (HxWx3 uint8), its boxes (N, 4) as x1, y1, x2, y2 pixels, and labels (N,) in 0..C-1."""
    scene = draw_background(rng, size, CLUTTER_ITEMS)
    boxes, labels = [], []
    for centre, radius in _place_objects(rng, size, int(rng.integers(*OBJECTS_PER_IMAGE))):
        label = int(rng.integers(len(DETECTION_CLASSES)))
        mask = draw_object(rng, scene, _SHAPE_INDEX[DETECTION_CLASSES[label]], centre, radius)
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            continue
        boxes.append((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
        labels.append(label)
    image = add_noise(rng, scene)
    return image, np.asarray(boxes, dtype=np.float32).reshape(-1, 4), np.asarray(labels, dtype=np.int64)


class ShapesDetectionDataset(Dataset):
    """Items are (uint8 CHW image, {"boxes": (N, 4) float, "labels": (N,) int64 in 0..C-1})."""

    def __init__(self, split: str, samples: int, size: int = DEFAULT_SIZE, seed: int = 0) -> None:
        if split not in _SPLIT_CODES:
            raise ValueError(f"unknown split {split!r}")
        self.split, self.samples, self.size, self.seed = split, samples, size, seed

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not 0 <= index < self.samples:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, _SPLIT_CODES[self.split], index])
        image, boxes, labels = render_detection_sample(rng, self.size)
        target = {"boxes": torch.from_numpy(boxes), "labels": torch.from_numpy(labels)}
        return torch.from_numpy(image).permute(2, 0, 1).contiguous(), target


def shapes_det_bundle(seed: int = 0) -> DatasetBundle:
    def split_factory(split: str, spec: InputSpec) -> Dataset:
        height, width = spec.image_size
        if height != width:
            raise DataError(f"the shapes-det set is square; got image size {height}x{width}")
        return ShapesDetectionDataset(split, SPLIT_SIZES[split], height, seed)

    return DatasetBundle(
        name="shapes-det",
        task="detection",
        class_names=list(DETECTION_CLASSES),
        fingerprint=f"shapes-det-v1-seed{seed}",
        native_size=(DEFAULT_SIZE, DEFAULT_SIZE),
        split_factory=split_factory,
    )
