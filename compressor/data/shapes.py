"""The built-in procedural classification set `shapes`.

Every image is drawn from its own random stream, seeded by (seed, split, index), so a split is the
same on every machine and any single sample can be regenerated alone. Labels cycle through the
classes, which makes every split exactly balanced. Difficulty comes from small sizes, rotation,
low contrast, background clutter and noise: look-alike classes (square/pentagon/hexagon/circle at a
few pixels across) keep a reference model below 100%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import Dataset

SHAPE_CLASSES: tuple[str, ...] = (
    "circle",
    "triangle",
    "square",
    "pentagon",
    "hexagon",
    "star",
    "cross",
    "ring",
    "crescent",
    "arrow",
)
SPLIT_SIZES: dict[str, int] = {"train": 8000, "val": 2000}
_SPLIT_CODES = {"train": 0, "val": 1}
DEFAULT_SIZE = 64
DEFAULT_SEED = 0
# Difficulty knobs, tuned so the reference mobilenet_v2 lands between 90% and 99% top-1.
MIN_CONTRAST = 160  # summed |RGB difference| between the object and both background ends
CLUTTER_ITEMS = (0, 3)  # half-open range of distractor lines/blobs per image
RADIUS_FRACTION = (0.18, 0.42)  # object radius as a fraction of the image side
NOISE_SIGMA = (2.0, 10.0)  # range of the Gaussian noise level, in 0-255 units
ROTATION_DEGREES = 180.0  # objects turn by a uniform angle in [-ROTATION_DEGREES, ROTATION_DEGREES]


def _rotate(points: np.ndarray, angle: float, centre: tuple[float, float]) -> list[tuple[float, float]]:
    c, s = math.cos(angle), math.sin(angle)
    rotated = points @ np.array([[c, s], [-s, c]])
    return [(float(x + centre[0]), float(y + centre[1])) for x, y in rotated]


def _regular_polygon(sides: int, radius: float) -> np.ndarray:
    angles = np.arange(sides) * 2 * math.pi / sides
    return np.stack([np.cos(angles), np.sin(angles)], axis=1) * radius


def _star(radius: float) -> np.ndarray:
    angles = np.arange(10) * math.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, radius, radius * 0.45)
    return np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1)


def _cross(radius: float) -> np.ndarray:
    a, w = radius, radius * 0.33
    return np.array(
        [(-w, -a), (w, -a), (w, -w), (a, -w), (a, w), (w, w), (w, a), (-w, a), (-w, w), (-a, w), (-a, -w), (-w, -w)]
    )


def _arrow(radius: float) -> np.ndarray:
    r = radius
    return np.array(
        [
            (-r, -0.2 * r),
            (0.2 * r, -0.2 * r),
            (0.2 * r, -0.6 * r),
            (r, 0),
            (0.2 * r, 0.6 * r),
            (0.2 * r, 0.2 * r),
            (-r, 0.2 * r),
        ]
    )


def _draw_mask(
    label: str, size: tuple[int, int], centre: tuple[float, float], radius: float, angle: float
) -> Image.Image:
    """A greyscale mask (255 inside the shape) for one shape on a (width, height) canvas."""
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    cx, cy = centre

    def disc(r: float, dx: float = 0.0, dy: float = 0.0, fill: int = 255) -> None:
        draw.ellipse((cx + dx - r, cy + dy - r, cx + dx + r, cy + dy + r), fill=fill)

    polygons = {
        "triangle": lambda: _regular_polygon(3, radius),
        "square": lambda: _regular_polygon(4, radius),
        "pentagon": lambda: _regular_polygon(5, radius),
        "hexagon": lambda: _regular_polygon(6, radius),
        "star": lambda: _star(radius),
        "cross": lambda: _cross(radius),
        "arrow": lambda: _arrow(radius),
    }
    if label in polygons:
        draw.polygon(_rotate(polygons[label](), angle, centre), fill=255)
    elif label == "circle":
        disc(radius)
    elif label == "ring":
        disc(radius)
        disc(radius * 0.55, fill=0)
    elif label == "crescent":
        disc(radius)
        disc(radius * 0.85, math.cos(angle) * radius * 0.5, math.sin(angle) * radius * 0.5, fill=0)
    else:
        raise ValueError(f"unknown shape class {label!r}")
    return mask


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, size=3).astype(np.float32)


@dataclass
class Scene:
    """A canvas being drawn on, and the two background colours objects must stand out from."""

    canvas: Image.Image
    top: np.ndarray
    bottom: np.ndarray


Size = int | tuple[int, int]  # a square side, or (height, width)


def _sides(size: Size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def draw_background(rng: np.random.Generator, size: Size, clutter_items: tuple[int, int] = CLUTTER_ITEMS) -> Scene:
    """A linear gradient between two colours, with thin lines and small blobs that are not objects."""
    height, width = _sides(size)
    top, bottom = _random_colour(rng), _random_colour(rng)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    if rng.random() < 0.5:
        ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    canvas = Image.fromarray(np.broadcast_to(top + (bottom - top) * ramp, (height, width, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(*clutter_items))):
        colour = tuple(int(c) for c in _random_colour(rng))
        x0, y0, x1, y1 = (float(v) for v in rng.uniform(0, 1, 4) * np.array([width, height, width, height]))
        if rng.random() < 0.6:
            draw.line((x0, y0, x1, y1), fill=colour, width=1)
        else:
            r = float(rng.uniform(1.5, 4.0))
            draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=colour)
    return Scene(canvas, top, bottom)


def draw_object(
    rng: np.random.Generator, scene: Scene, label: int, centre: tuple[float, float], radius: float
) -> np.ndarray:
    """Paste one rotated shape in a colour that contrasts with the background; return its boolean mask."""
    angle = math.radians(float(rng.uniform(-ROTATION_DEGREES, ROTATION_DEGREES)))
    colour = _random_colour(rng)
    for _ in range(20):
        if min(np.abs(colour - scene.top).sum(), np.abs(colour - scene.bottom).sum()) >= MIN_CONTRAST:
            break
        colour = _random_colour(rng)
    mask = _draw_mask(SHAPE_CLASSES[label], scene.canvas.size, centre, radius, angle)
    scene.canvas.paste(tuple(int(c) for c in colour), mask=mask)
    return np.asarray(mask) > 0


def add_noise(rng: np.random.Generator, scene: Scene) -> np.ndarray:
    """Sensor noise on the finished canvas; the image as HxWx3 uint8."""
    pixels = np.asarray(scene.canvas, dtype=np.float32)
    pixels += rng.normal(0.0, rng.uniform(*NOISE_SIGMA), pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def render_sample(rng: np.random.Generator, label: int, size: Size = DEFAULT_SIZE) -> np.ndarray:
    """Draw one image of class `label` as an HxWx3 uint8 array (`size`: a side, or height and width)."""
    height, width = _sides(size)
    scene = draw_background(rng, size)
    radius = float(rng.uniform(*RADIUS_FRACTION) * min(height, width))
    margin = radius * 0.8
    centre = (float(rng.uniform(margin, width - margin)), float(rng.uniform(margin, height - margin)))
    draw_object(rng, scene, label, centre, radius)
    return add_noise(rng, scene)


class ShapesSplit(Dataset):
    """One split whose images are drawn the first time they are asked for, then kept.

    A calibration subset or a quick `--max-samples` run costs only the images it touches, at any
    image size; the (N, 3, H, W) buffer is allocated untouched, so memory grows with use.
    """

    def __init__(self, split: str, samples: int, size: Size, seed: int) -> None:
        if split not in _SPLIT_CODES:
            raise ValueError(f"unknown split {split!r}")
        self.split, self.size, self.seed = split, size, seed
        self.images = torch.empty((samples, 3, *_sides(size)), dtype=torch.uint8)
        self.labels = torch.arange(samples, dtype=torch.int64) % len(SHAPE_CLASSES)
        self.drawn = torch.zeros(samples, dtype=torch.bool)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        label = int(self.labels[index])
        if not self.drawn[index]:
            rng = np.random.default_rng([self.seed, _SPLIT_CODES[self.split], int(index)])
            self.images[index] = torch.from_numpy(render_sample(rng, label, self.size)).permute(2, 0, 1)
            self.drawn[index] = True
        return self.images[index], label


@lru_cache(maxsize=8)
def shapes_split(split: str, samples: int, size: Size = DEFAULT_SIZE, seed: int = DEFAULT_SEED) -> ShapesSplit:
    """The split's dataset, shared within a process so images drawn once are never drawn again."""
    return ShapesSplit(split, samples, size, seed)


def render_split(
    split: str, samples: int, size: Size = DEFAULT_SIZE, seed: int = DEFAULT_SEED
) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of a split as (N, 3, H, W) uint8 and their (N,) int64 labels."""
    dataset = shapes_split(split, samples, size, seed)
    for index in range(len(dataset)):
        dataset[index]
    return dataset.images, dataset.labels
