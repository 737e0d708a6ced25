"""ModelHandle: what every stage passes along, whatever form the model is in (torch or ONNX)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn

from compressor.core.errors import ModelMismatchError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# A grey image's one channel: ImageNet's statistics averaged over the colours (timm's choice for in_chans=1).
GREY_MEAN = (round(sum(IMAGENET_MEAN) / 3, 4),)
GREY_STD = (round(sum(IMAGENET_STD) / 3, 4),)
IMAGE_CHANNELS = {3: "RGB", 1: "grayscale"}  # what the data pipeline can feed an image model
REVISION = "revision"  # metadata key: the zoo network's revision a checkpoint was written from
DESCRIBED_METADATA = ("architecture_changes", "pruning", REVISION)  # metadata a checkpoint records
FITS = ("crop", "squash", "letterbox")  # how an image file becomes the input (`InputSpec.fit`)
LETTERBOX_PAD = 114  # the grey letterboxing pads with, as detector pipelines (Ultralytics) do


@dataclass(frozen=True)
class InputSpec:
    """One sample's input: shape without the batch axis, and the normalisation the model expects."""

    shape: tuple[int, ...]
    mean: tuple[float, ...] = IMAGENET_MEAN  # images only
    std: tuple[float, ...] = IMAGENET_STD  # images only
    dtype: str = "float32"
    vocab: tuple[str, ...] | None = None  # text models with a built-in word-level vocabulary
    tokenizer: str | None = None  # text models with a Hugging Face tokenizer: its directory
    # How an image file is framed before its centre crop to `image_size`, as torchvision's Resize takes
    # it: (S,) the short side to S, aspect kept; (H, W) exactly. None: the short side to the crop's.
    resize: tuple[int, ...] | None = None
    interpolation: str = "bilinear"  # a torchvision InterpolationMode value
    # Centre-crop offsets on an odd margin: "nearest" (halves to even) as torchvision's CenterCrop and
    # timm, or "down" as transformers' image processors.
    crop_rounding: str = "nearest"
    # Letterboxing: the image scaled to fit inside the input, aspect kept, the rest padded with this
    # pixel value (0-255); None: framed by `resize` and a centre crop.
    pad: int | None = None

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.shape[-2]), int(self.shape[-1])

    @property
    def fit(self) -> str:
        """How an image file becomes the input: `crop` (short side, then the centre), `squash` (resized to
        exactly the input size) or `letterbox` (fitted inside, aspect kept, padded)."""
        if self.pad is not None:
            return "letterbox"
        return "squash" if self.resize is not None and tuple(self.resize) == self.image_size else "crop"

    def fitted(self, fit: str) -> InputSpec:
        """This spec with images framed by `fit` (see `fit`); letterboxing pads with grey 114."""
        if fit not in FITS:
            raise ValueError(f"unknown fit {fit!r}; choose from {', '.join(FITS)}")
        resize = self.image_size if fit == "squash" else None
        return replace(self, resize=resize, pad=LETTERBOX_PAD if fit == "letterbox" else None)

    @property
    def grayscale(self) -> bool:
        """An image model reading one grey channel: every RGB image is turned to luma before it is fed."""
        return self.dtype == "float32" and len(self.shape) == 3 and self.shape[0] == 1

    @property
    def resize_before_crop(self) -> tuple[int, ...]:
        """The resize an image file gets before its centre crop to `image_size`."""
        return self.resize if self.resize is not None else (min(self.image_size),)

    def to_dict(self) -> dict[str, Any]:
        fields = {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}
        return {**fields, "fit": self.fit}  # `fit` is read back from resize and pad

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        vocab = data.get("vocab")
        return cls(
            shape=tuple(int(v) for v in data["shape"]),
            mean=tuple(float(v) for v in data.get("mean", IMAGENET_MEAN)),
            std=tuple(float(v) for v in data.get("std", IMAGENET_STD)),
            dtype=str(data.get("dtype", "float32")),
            vocab=tuple(str(word) for word in vocab) if vocab is not None else None,
            tokenizer=data.get("tokenizer"),
            resize=tuple(int(v) for v in data["resize"]) if data.get("resize") is not None else None,
            interpolation=str(data.get("interpolation", "bilinear")),
            crop_rounding=str(data.get("crop_rounding", "nearest")),
            pad=int(data["pad"]) if data.get("pad") is not None else None,
        )

    @classmethod
    def image(cls, image_size: tuple[int, int], channels: int = 3, model: str = "the model") -> InputSpec:
        """An image model's spec: RGB with ImageNet's normalisation, or one grey channel."""
        if channels not in IMAGE_CHANNELS:
            raise ModelMismatchError(
                f"{model} reads {channels}-channel images; compressor feeds RGB (3 channels) or grayscale (1)"
            )
        shape = (channels, int(image_size[0]), int(image_size[1]))
        return cls(shape=shape) if channels == 3 else cls(shape=shape, mean=GREY_MEAN, std=GREY_STD)


def scaled_resize(resize: tuple[int, ...], crop: tuple[int, int], to_crop: tuple[int, int]) -> tuple[int, ...]:
    """A resize-before-crop for a crop of `to_crop` instead of `crop`: the same view of each image at another
    size (a 256 short side before a 224 crop is 146 before a 128 crop)."""
    if len(resize) == 1:
        return (round(resize[0] * min(to_crop) / min(crop)),)
    return round(resize[0] * to_crop[0] / crop[0]), round(resize[1] * to_crop[1] / crop[1])


@dataclass
class ModelHandle:
    """A model plus everything needed to feed it and read its outputs.

    Exactly one of `module` (a torch model) and `onnx_path` (an ONNX file, or an OpenVINO IR) is set.
    """

    name: str
    task: str
    input_spec: InputSpec
    class_names: list[str]
    module: nn.Module | None = None
    onnx_path: Path | None = None
    source: str = ""
    weights: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    # Other forms of the same model a compression made (an fp16 torch model's fp16 ONNX file), by backend
    # kind ("torch", "onnx"): measuring runs each backend on the form it takes.
    artifacts: dict[str, ModelHandle] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.module is None) == (self.onnx_path is None):
            raise ValueError("a ModelHandle holds either a torch module or an ONNX path")

    @property
    def kind(self) -> str:
        return "torch" if self.module is not None else "onnx"

    @property
    def openvino_ir(self) -> bool:
        """`onnx_path` names an OpenVINO IR (.xml, its .bin beside) rather than an ONNX file: only backends
        that read IR (openvino) run it."""
        return self.onnx_path is not None and self.onnx_path.suffix == ".xml"

    @property
    def file_stem(self) -> str:
        """The name as a file name stem: a path or `file.py:factory` name reduced to safe characters."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(self.name).name) or "model"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def describe(self) -> dict[str, Any]:
        """What a checkpoint or an ONNX file's metadata records, so the model can be reloaded alone."""
        return {
            "name": self.name,
            "task": self.task,
            "input_spec": self.input_spec.to_dict(),
            "class_names": list(self.class_names),
            "source": self.source,
            "weights": self.weights,
            # A pruned model's layer widths (see models.architecture_changes), so its copies reload too, and
            # the zoo network's revision (see models.registry), so one built otherwise later is warned of.
            **{key: self.metadata[key] for key in DESCRIBED_METADATA if key in self.metadata},
        }
