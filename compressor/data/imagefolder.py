"""Real images: an ImageFolder directory (`train/` and `val/` class folders, or one class-folder tree)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset
from torchvision.transforms import v2

from compressor.core.errors import DataError, brief
from compressor.core.handle import InputSpec
from compressor.data.base import DatasetBundle, in_val_split
from compressor.data.decoding import read_rgb


def centre_crop(pixels: torch.Tensor, size: tuple[int, int], rounding: str = "nearest") -> torch.Tensor:
    """The centre `size` of `pixels`, zero-padded where smaller, offsets on an odd margin rounded as the
    model's own pipeline rounds them: "nearest" (torchvision's CenterCrop: halves to even, as Python's
    round) or "down" (transformers' image processors)."""
    if rounding == "nearest":
        return v2.functional.center_crop(pixels, list(size))
    height, width = pixels.shape[-2:]
    pad_rows, pad_columns = max(size[0] - height, 0), max(size[1] - width, 0)
    if pad_rows or pad_columns:
        padding = [pad_columns // 2, pad_rows // 2, (pad_columns + 1) // 2, (pad_rows + 1) // 2]
        pixels = v2.functional.pad(pixels, padding, fill=0)
        height, width = pixels.shape[-2:]
    top, left = (height - size[0]) // 2, (width - size[1]) // 2
    return pixels[..., top : top + size[0], left : left + size[1]]


class ImageFileDataset(Dataset):
    """(path, label) pairs read with PIL, resized and centre-cropped as `spec` frames them.

    Zoo models: the short side to the input size, then its centre. A Hugging Face classifier: as its
    image processor does (`image_processor.processor_framing`), on tensors as transformers' torchvision
    backend does.
    """

    reads_files = True  # decoded in DataLoader workers (data/loader.py)

    def __init__(self, samples: list[tuple[str, int]], spec: InputSpec) -> None:
        self.samples = samples
        self.interpolation = v2.InterpolationMode(spec.interpolation)
        self.resize = v2.Resize(list(spec.resize_before_crop), self.interpolation, antialias=True)
        self.size = spec.image_size
        self.crop_rounding = spec.crop_rounding
        self.pad = spec.pad

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        if self.pad is not None:
            return letterbox(read_rgb(path), self.size, self.pad, self.interpolation), label
        return centre_crop(self.resize(read_rgb(path)), self.size, self.crop_rounding), label


def letterbox(
    pixels: torch.Tensor, size: tuple[int, int], pad: int, interpolation: v2.InterpolationMode
) -> torch.Tensor:
    """`pixels` scaled to fit inside `size` with their aspect kept, centred, the margins filled with `pad`."""
    height, width = pixels.shape[-2:]
    scale = min(size[0] / height, size[1] / width)
    inner = (max(1, round(height * scale)), max(1, round(width * scale)))
    scaled = v2.functional.resize(pixels, list(inner), interpolation, antialias=True)
    rows, columns = size[0] - inner[0], size[1] - inner[1]
    padding = [columns // 2, rows // 2, columns - columns // 2, rows - rows // 2]  # left, top, right, bottom
    return v2.functional.pad(scaled, padding, fill=pad)


def _scan(root: Path) -> tuple[list[str], list[tuple[str, int]]]:
    try:
        classes, class_to_idx = find_classes(str(root))
        samples = make_dataset(str(root), class_to_idx, extensions=IMG_EXTENSIONS, allow_empty=True)
    except FileNotFoundError as error:
        message = f"{root} is not an image dataset: expected one sub-folder per class ({brief(error)})"
        raise DataError(message) from error
    if not samples:
        raise DataError(f"{root} holds no images ({', '.join(IMG_EXTENSIONS[:4])}, ...) in its class folders")
    return classes, samples


def _is_val(path: str, root: Path) -> bool:
    return in_val_split(str(Path(path).relative_to(root)))


def _files_size(samples: list[tuple[str, int]]) -> tuple[tuple[int, int] | None, bool]:
    """The (height, width) every image has, and whether they vary: read from each file's header."""
    sizes = set()
    for path, _ in samples:
        try:
            with Image.open(path) as image:
                sizes.add((image.height, image.width))
        except OSError:
            continue  # an unreadable file is reported where it is decoded
        if len(sizes) > 1:
            return None, True
    return (next(iter(sizes)) if sizes else None), False


def _fingerprint(root: Path, samples: list[tuple[str, int]]) -> str:
    digest = hashlib.sha1()
    for path, label in samples:
        digest.update(f"{Path(path).relative_to(root)}:{Path(path).stat().st_size}:{label}\n".encode())
    return digest.hexdigest()[:12]


def load_image_folder(root: Path) -> DatasetBundle:
    """An ImageFolder with `train/` and `val/`, or one tree split 80/20 by a hash of each path."""
    root = root.resolve()
    if (root / "train").is_dir() and (root / "val").is_dir():
        classes, train = _scan(root / "train")
        val_classes, val = _scan(root / "val")
        if val_classes != classes:
            raise DataError(f"{root}: train/ and val/ have different class folders ({classes} vs {val_classes})")
    else:
        classes, samples = _scan(root)
        val = [s for s in samples if _is_val(s[0], root)]
        train = [s for s in samples if not _is_val(s[0], root)]
        if not val or not train:
            raise DataError(f"{root}: too few images to split into train and val ({len(samples)} found)")
    if len(classes) < 2:
        raise DataError(f"{root}: classification needs at least two class folders, found {classes}")
    splits = {"train": train, "val": val}
    files_size, files_vary = _files_size(train + val)

    def split_factory(split: str, spec: InputSpec) -> Dataset:
        return ImageFileDataset(splits[split], spec)

    return DatasetBundle(
        name=str(root),
        task="classification",
        class_names=classes,
        fingerprint=f"folder-{_fingerprint(root, train + val)}",
        native_size=None,
        split_factory=split_factory,
        files_size=files_size,
        files_vary=files_vary,
    )


__all__ = ["ImageFileDataset", "load_image_folder"]
