"""torchvision's ImageNet weights for the zoo's torchvision classifiers: `--weights imagenet`.

The published weights answer in ImageNet's 1,000 classes. The data's classes pick their rows of the
final layer, in the data's order: ImageNet's own 1,000 synset folders (n01440764, ...: sorted, they are
torchvision's order), or class names as torchvision lists them (tench, goldfish, great_white_shark: any
subset). The model is then the zoo's network for the data's classes, so pruning, checkpoints and
exports treat it like any zoo model. Its input is framed as the weights were evaluated (torchvision's
`transforms()`: resize, crop, filter, normalisation). The download is torchvision's, into torch's hub
cache (`$TORCH_HOME`); nothing is fetched at import or for other weights.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import torch
from torch import nn

from compressor.errors import BackendUnavailableError, ModelMismatchError, UnknownNameError, brief
from compressor.models.handle import InputSpec, scaled_resize
from compressor.progress import info

PRETRAINED = "imagenet"  # --weights value: the torchvision weights its DEFAULT names
_SYNSET = re.compile(r"n\d{8}")


def is_pretrained_request(weights: str | None) -> bool:
    """`imagenet`, or a torchvision weights name such as IMAGENET1K_V1."""
    return weights is not None and (weights == PRETRAINED or weights.startswith("IMAGENET1K_"))


def torchvision_weights(model: str, request: str, has_them: bool) -> Any:
    """The torchvision weights enum member `request` names for zoo model `model` (`has_them`: a torchvision
    classifier of the zoo)."""
    if not has_them:
        raise UnknownNameError(
            f"--weights {request}: torchvision's ImageNet weights exist for the zoo's torchvision classifiers, "
            f"not {model}"
        )
    available = importlib.import_module("torchvision.models").get_model_weights(model)
    if request == PRETRAINED:
        return available.DEFAULT
    names = [name for name in available.__members__ if name != "DEFAULT"]
    if request not in names:
        raise UnknownNameError(f"--weights {request}: {model} has {', '.join(names)} (or `imagenet`: the default)")
    return available[request]


def pretrained_spec(weights: Any, image_size: tuple[int, int] | None) -> InputSpec:
    """The input the weights were evaluated at (torchvision's transforms()), at `image_size` if one is asked:
    the resize is scaled with the crop, so the same share of each image is kept."""
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
    """For each of the data's classes, the row of the 1,000-way layer that scores it."""
    if len(class_names) == len(categories) and all(_SYNSET.fullmatch(name) for name in class_names):
        return list(range(len(categories)))  # ImageNet's synset folders: sorted, torchvision's order
    rows: dict[str, list[int]] = {}
    for index, category in enumerate(categories):
        rows.setdefault(_normalised(category), []).append(index)
    unknown = [name for name in class_names if _normalised(name) not in rows]
    if unknown:
        raise ModelMismatchError(
            f"{origin} answers in ImageNet's classes; the data's must be its 1,000 synset folders (n01440764, ...) "
            f"or named as torchvision names them ({', '.join(categories[:3])}, ...): {', '.join(unknown[:3])} "
            f"{'is' if len(unknown) == 1 else 'are'} not"
        )
    ambiguous = [name for name in class_names if len(rows[_normalised(name)]) > 1]
    if ambiguous:
        raise ModelMismatchError(
            f"{origin}: ImageNet has several classes named {ambiguous[0]!r}; use its synset folders for them"
        )
    return [rows[_normalised(name)][0] for name in class_names]


def _downloaded_state(model: str, weights: Any) -> dict[str, torch.Tensor]:
    """The 1,000-class network's state dict, built by torchvision with its weights (it downloads them into
    torch's hub cache once, and renames old checkpoints' keys as it loads them)."""
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
    """`module` (the zoo network for the data's classes) with the weights; the final layer keeps the rows
    of the data's classes, in their order. With `new_head` (fine-tuning on other classes), data whose
    classes are not ImageNet's keeps `module`'s freshly initialised final layer instead of an error."""
    from compressor.models.loading import apply_state_dict  # loading imports this module

    categories = list(weights.meta["categories"])
    try:
        rows: torch.Tensor | None = torch.tensor(output_rows(categories, class_names, f"{model} with {weights}"))
    except ModelMismatchError:
        if not new_head:
            raise
        info(f"the data's {len(class_names)} classes are not ImageNet's: {model} gets a new final layer for them")
        rows = None
    state = _downloaded_state(model, weights)
    own = module.state_dict()
    for key, tensor in state.items():  # the classifier's weight and bias: 1,000 rows, the model has fewer
        if tensor.dim() and key in own and tensor.shape[0] == len(categories) and own[key].shape[0] == len(class_names):
            state[key] = own[key] if rows is None else tensor.index_select(0, rows)
    apply_state_dict(module, state, f"torchvision's {weights}")
