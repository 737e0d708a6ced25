"""Real detection data: a COCO annotations json and its images.

Images are looked up beside the json, in `images/` beside it, or in `images/` one folder up (the
usual `annotations/` + `images/` layout). One json is split 80/20 by a hash of each file name, so
the split is stable when images are added. Boxes are checked: a box outside its image or with no
area is an error naming the annotation, not a silent NaN in training.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from compressor.core.errors import DataError, brief
from compressor.core.handle import InputSpec
from compressor.data.base import DatasetBundle, in_val_split
from compressor.data.decoding import read_rgb


@dataclass(frozen=True)
class CocoImage:
    path: Path
    width: int
    height: int
    boxes: tuple[tuple[float, float, float, float], ...]  # x1, y1, x2, y2 in pixels
    labels: tuple[int, ...]  # 0..C-1


class CocoDetectionDataset(Dataset):
    """Images resized to the model's input size (boxes scaled with them), as uint8 CHW tensors."""

    reads_files = True  # decoded in DataLoader workers (data/loader.py)

    def __init__(self, images: list[CocoImage], image_size: tuple[int, int]) -> None:
        self.images = images
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        item = self.images[index]
        pixels = read_rgb(item.path)
        height, width = self.image_size
        scale = torch.tensor([width / pixels.shape[2], height / pixels.shape[1]] * 2)
        boxes = torch.tensor(item.boxes, dtype=torch.float32).reshape(-1, 4) * scale
        target = {"boxes": boxes, "labels": torch.tensor(item.labels, dtype=torch.int64)}
        return TF.resize(pixels, [height, width], antialias=True), target


def _find_image(json_path: Path, file_name: str) -> Path:
    folder = json_path.parent
    candidates = [folder / file_name, folder / "images" / file_name, folder.parent / "images" / file_name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataError(f"{json_path}: image {file_name!r} not found beside the json or in an images/ folder")


def _checked_box(annotation: dict, width: int, height: int, json_path: Path) -> tuple[float, float, float, float]:
    try:
        x, y, w, h = (float(v) for v in annotation["bbox"])
    except (KeyError, TypeError, ValueError) as error:
        raise DataError(f"{json_path}: annotation {annotation.get('id')} has no [x, y, w, h] bbox") from error
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width + 1 or y + h > height + 1:
        raise DataError(
            f"{json_path}: annotation {annotation.get('id')} has a bad box {[x, y, w, h]} for a "
            f"{width}x{height} image (x, y, w, h must lie inside the image with w, h > 0)"
        )
    return x, y, x + w, y + h


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path} is not a readable json file: {brief(error)}") from error
    missing = [key for key in ("images", "annotations", "categories") if key not in data]
    if missing:
        raise DataError(f"{path} is not a COCO annotations file: missing {', '.join(missing)}")
    if not data["categories"]:
        raise DataError(f"{path} defines no categories")
    return data


def load_coco(path: Path) -> DatasetBundle:
    path = path.resolve()
    data = _read_json(path)
    categories = sorted(data["categories"], key=lambda category: category["id"])
    label_of = {category["id"]: index for index, category in enumerate(categories)}
    by_image: dict[int, list[dict]] = {}
    for annotation in data["annotations"]:
        if not annotation.get("iscrowd", 0):
            by_image.setdefault(annotation["image_id"], []).append(annotation)
    images = []
    for record in data["images"]:
        width, height = int(record["width"]), int(record["height"])
        annotations = by_image.get(record["id"], [])
        unknown = [a["category_id"] for a in annotations if a["category_id"] not in label_of]
        if unknown:
            raise DataError(f"{path}: image {record['id']} uses undefined category ids {unknown}")
        images.append(
            CocoImage(
                path=_find_image(path, record["file_name"]),
                width=width,
                height=height,
                boxes=tuple(_checked_box(a, width, height, path) for a in annotations),
                labels=tuple(label_of[a["category_id"]] for a in annotations),
            )
        )
    if not images:
        raise DataError(f"{path} lists no images")
    splits = {
        "train": [image for image in images if not in_val_split(image.path.name)],
        "val": [image for image in images if in_val_split(image.path.name)],
    }
    if not splits["train"] or not splits["val"]:
        raise DataError(f"{path}: too few images ({len(images)}) to split into train and val")

    def split_factory(split: str, spec: InputSpec) -> Dataset:
        return CocoDetectionDataset(splits[split], spec.image_size)

    fingerprint = hashlib.sha1(path.read_bytes()).hexdigest()[:12]
    return DatasetBundle(
        name=str(path),
        task="detection",
        class_names=[str(c.get("name", c["id"])) for c in categories],
        fingerprint=f"coco-{fingerprint}",
        native_size=None,
        split_factory=split_factory,
    )
