"""torchvision's published weights for the zoo's torchvision models: `--weights imagenet` for the
classifiers, `--weights coco` for the detectors (or a weights name: IMAGENET1K_V1, COCO_V1, ...).

The data's classes (ImageNet synset folders, or torchvision's class names: any subset) pick their rows
of the final layers, so the result is the zoo's network for the data's classes like any other. A
classifier's input is framed as torchvision's `transforms()` evaluated the weights. The download goes to
torch's hub cache (`$TORCH_HOME`); nothing is fetched for other weights.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import torch
from torch import nn

from compressor.core.errors import BackendUnavailableError, ModelMismatchError, UnknownNameError, brief
from compressor.core.handle import InputSpec, scaled_resize
from compressor.core.progress import info
from compressor.models.checkpoint import apply_state_dict
from compressor.models.detection import TORCHVISION_DETECTORS
from compressor.models.zoo import TORCHVISION_CLASSIFIERS

KEYWORDS = ("imagenet", "coco")  # --weights: torchvision's DEFAULT weights for the model
_NAMED = re.compile(r"(IMAGENET1K|COCO)_V\d+")  # torchvision's names of the weights
_SYNSET = re.compile(r"n\d{8}")
_NO_CLASS = ("__background__", "N/A")  # COCO's background and unused category slots
# Layers whose outputs are per class then per coordinate (Faster R-CNN's box regression: class-major);
# the others are per anchor then per class (SSD's scores) or one row per class (classifiers).
_CLASS_MAJOR = ("bbox_pred.weight", "bbox_pred.bias")


def published_weights(model: str) -> str | None:
    """The --weights keyword of a zoo model's published weights (imagenet, coco), or None (vit_tiny is
    torchvision's class, at a size torchvision publishes no weights for)."""
    if model in TORCHVISION_CLASSIFIERS:
        return "imagenet"
    return "coco" if model in TORCHVISION_DETECTORS else None


def is_pretrained_request(weights: str | None) -> bool:
    """`imagenet`, `coco`, or a torchvision weights name such as IMAGENET1K_V1."""
    return weights is not None and (weights in KEYWORDS or bool(_NAMED.fullmatch(weights)))


def torchvision_weights(model: str, request: str) -> Any:
    """The torchvision weights enum member `request` names for zoo model `model`."""
    keyword = published_weights(model)
    if keyword is None:
        raise UnknownNameError(
            f"--weights {request}: torchvision publishes weights for {', '.join(TORCHVISION_CLASSIFIERS)} (imagenet) "
            f"and {', '.join(TORCHVISION_DETECTORS)} (coco), not {model}"
        )
    if request in KEYWORDS and request != keyword:
        raise UnknownNameError(f"--weights {request}: {model}'s torchvision weights are --weights {keyword}")
    available = importlib.import_module("torchvision.models").get_model_weights(model)
    if request == keyword:
        return available.DEFAULT
    names = [name for name in available.__members__ if name != "DEFAULT"]
    if request not in names:
        raise UnknownNameError(f"--weights {request}: {model} has {', '.join(names)} (or `{keyword}`: the default)")
    return available[request]


def pretrained_spec(weights: Any, image_size: tuple[int, int] | None) -> InputSpec:
    """A classifier's input as the weights were evaluated (torchvision's transforms()), at `image_size` if
    one is asked: the resize is scaled with the crop, so the same share of each image is kept."""
    preset = weights.transforms()
    crop = (int(preset.crop_size[0]), int(preset.crop_size[-1]))
    size = image_size or crop
    return InputSpec(
        shape=(3, *size),
        mean=tuple(float(v) for v in preset.mean),
        std=tuple(float(v) for v in preset.std),
        resize=scaled_resize((int(preset.resize_size[0]),), crop, size),
        interpolation=preset.interpolation.value,
    )


def _normalised(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").split())


def output_rows(categories: list[str], class_names: list[str], origin: str) -> list[int]:
    """For each of the data's classes, the output row of the weights' classes that scores it (for a
    detector, after the background row 0, which stays first)."""
    background = [0] if categories[0] == _NO_CLASS[0] else []
    if len(class_names) == len(categories) and all(_SYNSET.fullmatch(name) for name in class_names):
        return list(range(len(categories)))  # ImageNet's synset folders: sorted, torchvision's order
    rows: dict[str, list[int]] = {}
    for index, category in enumerate(categories):
        if category not in _NO_CLASS:
            rows.setdefault(_normalised(category), []).append(index)
    unknown = [name for name in class_names if _normalised(name) not in rows]
    if unknown:
        named = [category for category in categories if category not in _NO_CLASS]
        synsets = "its 1,000 synset folders (n01440764, ...) or " if not background else ""
        raise ModelMismatchError(
            f"{origin} answers in its dataset's classes; the data's must be {synsets}named as torchvision names "
            f"them ({', '.join(named[:3])}, ...): {', '.join(unknown[:3])} {'is' if len(unknown) == 1 else 'are'} not"
        )
    ambiguous = [name for name in class_names if len(rows[_normalised(name)]) > 1]
    if ambiguous:
        raise ModelMismatchError(
            f"{origin}: its classes include several named {ambiguous[0]!r}; use its synset folders for them"
        )
    return background + [rows[_normalised(name)][0] for name in class_names]


def select_rows(key: str, tensor: torch.Tensor, rows: torch.Tensor, classes: int) -> torch.Tensor:
    """`tensor`'s outputs for the classes `rows` out of `classes`: one row per class (a classifier), per
    anchor then class (SSD's scores), or per class then coordinate (`_CLASS_MAJOR`)."""
    if key.endswith(_CLASS_MAJOR):
        grouped = tensor.reshape(classes, -1, *tensor.shape[1:]).index_select(0, rows)
    else:
        grouped = tensor.reshape(-1, classes, *tensor.shape[1:]).index_select(1, rows)
    return grouped.reshape(-1, *tensor.shape[1:])


def _answers_per_class(theirs: torch.Tensor, ours: torch.Tensor, classes: int, answers: int) -> bool:
    """Whether a tensor is a final layer's: m outputs per class in the weights (`classes`) and in the model
    (`answers`). No other layer of the zoo's torchvision models has a multiple of 1,000 or 91 outputs."""
    if not theirs.dim() or theirs.shape[1:] != ours.shape[1:] or theirs.shape[0] % classes:
        return False
    return ours.shape[0] == theirs.shape[0] // classes * answers


def _downloaded_state(model: str, weights: Any) -> dict[str, torch.Tensor]:
    """The network for the weights' classes, built by torchvision with them (it downloads them into
    torch's hub cache once, and renames old checkpoints' keys as it loads them), as a state dict."""
    info(f"loading torchvision's {weights} for {model} (downloaded once into torch's hub cache)")
    try:
        network = importlib.import_module("torchvision.models").get_model(model, weights=weights)
    except OSError as error:  # URLError, a refused or cut connection
        raise BackendUnavailableError(
            f"could not download torchvision's {weights} ({brief(error)}); on a machine without internet, put "
            f"{weights.url.rsplit('/', 1)[-1]} in {torch.hub.get_dir()}/checkpoints"
        ) from error
    return network.state_dict()


def load_pretrained(module: nn.Module, model: str, weights: Any, class_names: list[str], new_head: bool) -> None:
    """`module` (the zoo network for the data's classes) with the weights; the final layers keep the rows
    of the data's classes, in their order. With `new_head` (fine-tuning on other classes), data whose
    classes the weights lack keeps `module`'s freshly initialised final layers instead of an error."""

    categories = list(weights.meta["categories"])
    try:
        rows: torch.Tensor | None = torch.tensor(output_rows(categories, class_names, f"{model} with {weights}"))
    except ModelMismatchError:
        if not new_head:
            raise
        info(f"the data's classes are not among {weights}'s: {model} gets new final layers for them")
        rows = None
    state = _downloaded_state(model, weights)
    own = module.state_dict()
    answers = len(class_names) + (categories[0] == _NO_CLASS[0])  # a detector's background too
    for key, tensor in state.items():
        if key in own and _answers_per_class(tensor, own[key], len(categories), answers):
            state[key] = own[key] if rows is None else select_rows(key, tensor, rows, len(categories))
    for key in own.keys() - state.keys():
        if key.endswith("num_batches_tracked"):  # frozen batch norm (torchvision's trained detectors) has none
            state[key] = own[key]
    apply_state_dict(module, state, f"torchvision's {weights}")
