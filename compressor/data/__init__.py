"""Datasets by name or path: built-in procedural sets, or an ImageFolder directory."""

from __future__ import annotations

import difflib
from pathlib import Path

from torch.utils.data import Dataset

from compressor.core.errors import DataError, UnknownNameError
from compressor.core.handle import InputSpec
from compressor.data import shapes
from compressor.data.base import DatasetBundle, deterministic_subset
from compressor.data.shapes_det import shapes_det_bundle
from compressor.data.textfile import TEXT_SUFFIXES, is_text_dir, load_text_data
from compressor.data.topics import topics_bundle

BUILTIN_DATASETS = ("shapes", "shapes-det", "topics")
DEFAULT_DATASET = "shapes"


def _shapes_bundle(seed: int) -> DatasetBundle:
    def split_factory(split: str, spec: InputSpec) -> Dataset:
        height, width = spec.image_size
        size = height if height == width else (height, width)  # a square keeps the images it always had
        return shapes.shapes_split(split, shapes.SPLIT_SIZES[split], size, seed)

    return DatasetBundle(
        name="shapes",
        task="classification",
        class_names=list(shapes.SHAPE_CLASSES),
        fingerprint=f"shapes-v1-seed{seed}",
        native_size=(shapes.DEFAULT_SIZE, shapes.DEFAULT_SIZE),
        split_factory=split_factory,
    )


def load_dataset(spec: str, seed: int = shapes.DEFAULT_SEED) -> DatasetBundle:
    """A built-in name, a .jsonl/.csv text file or directory of them, or an ImageFolder directory."""
    if spec == "shapes":
        return _shapes_bundle(seed)
    if spec == "shapes-det":
        return shapes_det_bundle(seed)
    if spec == "topics":
        return topics_bundle(seed)
    path = Path(spec).expanduser()
    if path.suffix == ".json" and path.is_file():
        from compressor.data.coco import load_coco  # torchvision: imported for the data that needs it

        return load_coco(path)
    if path.suffix in TEXT_SUFFIXES or (path.is_dir() and is_text_dir(path)):
        return load_text_data(path)
    if path.is_dir():
        from compressor.data.imagefolder import load_image_folder

        return load_image_folder(path)
    if path.exists():
        raise DataError(f"{spec} is a file, not a dataset: pass a built-in name or an ImageFolder directory")
    if spec.startswith((".", "~")) or "/" in spec or "\\" in spec:
        raise DataError(f"dataset folder not found: {spec}")
    close = difflib.get_close_matches(spec, BUILTIN_DATASETS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownNameError(
        f"unknown dataset {spec!r}: not a built-in ({', '.join(BUILTIN_DATASETS)}) nor an existing directory.{hint}"
    )


def calibration_split(bundle: DatasetBundle, spec: InputSpec, samples: int, seed: int = 0) -> Dataset:
    """Calibration data is always drawn from train, never from the val split we report on."""
    return deterministic_subset(bundle.split("train", spec), samples, seed)


__all__ = [
    "BUILTIN_DATASETS",
    "DEFAULT_DATASET",
    "DatasetBundle",
    "calibration_split",
    "deterministic_subset",
    "load_dataset",
]
