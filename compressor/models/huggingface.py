"""Hugging Face models saved with `save_pretrained`, loaded from their local directory.

Sequence classifiers become task `text`, bare encoders and sentence-transformers folders `embedding`,
`*ForImageClassification` models `classification` (framed as their image processor records).
`transformers` is an optional extra, imported only when such a directory is loaded. Nothing is
downloaded: the model and its tokenizer (or image processor config) must be in the directory.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compressor.core.errors import InputFileError, ModelMismatchError, brief
from compressor.core.handle import InputSpec, ModelHandle
from compressor.data.base import DatasetBundle
from compressor.data.text import (
    EMBEDDING_TASK,
    MAX_LENGTH,
    TEXT_TASK,
    hf_tokenizer,
    import_transformers,
    require_text_bundle,
    text_input_spec,
)
from compressor.models.architecture_changes import ARCHITECTURE_CHANGES, apply_architecture_changes
from compressor.models.checkpoint import apply_state_dict
from compressor.models.hf_labels import label_order
from compressor.models.image_processor import IMAGE_TASK, image_processor_input


class _Classifier(nn.Module):
    """A Hugging Face classifier whose logits come out in the data's class order (see hf_labels)."""

    def __init__(self, model: nn.Module, order: list[int] | None = None) -> None:
        super().__init__()
        self.model = model
        # Not saved with the weights: it is derived from the config and the data at every load.
        self.register_buffer("order", torch.tensor(order) if order else None, persistent=False)

    def _in_data_order(self, logits: torch.Tensor) -> torch.Tensor:
        return logits if self.order is None else logits[:, self.order]


class SequenceClassifier(_Classifier):
    """Positional (input_ids, attention_mask) in, logits out: the text task's interface, for any HF classifier."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self._in_data_order(self.model(input_ids=input_ids, attention_mask=attention_mask).logits)


class ImageClassifier(_Classifier):
    """Positional pixel values in, logits out: the image classification task's interface, for any HF classifier."""

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self._in_data_order(self.model(pixel_values=pixel_values).logits)


class BgrImageClassifier(ImageClassifier):
    """An image classifier trained on BGR (MobileViT): RGB in, as every image model here and its exports
    take it, flipped inside the model, so the ONNX file and Jetson bundle need no extra step."""

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return super().forward(pixel_values.flip(1))


class SentenceEmbedder(nn.Module):
    """Positional (input_ids, attention_mask) in, one pooled vector per text out (mean or [CLS] pooling)."""

    def __init__(self, model: nn.Module, pooling: str) -> None:
        super().__init__()
        self.model = model
        self.pooling = pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def _pooling(path: Path) -> str:
    """sentence-transformers records its pooling in 1_Pooling/config.json; mean pooling otherwise (its default)."""
    config_file = path / "1_Pooling" / "config.json"
    if not config_file.is_file():
        return "mean"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as error:
        raise InputFileError(f"{config_file}: unreadable pooling config: {brief(error)}") from error
    if config.get("pooling_mode_cls_token"):
        return "cls"
    if config.get("pooling_mode_mean_tokens", True):
        return "mean"
    modes = sorted(key for key, value in config.items() if key.startswith("pooling_mode") and value)
    raise InputFileError(f"{config_file}: pooling {', '.join(modes)} is not supported (mean or cls)")


def _load_config(path: Path) -> Any:
    if not (path / "config.json").is_file():
        raise InputFileError(f"{path} is a directory but not a Hugging Face model (no config.json)")
    try:
        return import_transformers().AutoConfig.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise InputFileError(f"{path}: unreadable Hugging Face config: {brief(error)}") from error


def load_hf_model(path: Path, bundle: DatasetBundle) -> ModelHandle:
    """A Hugging Face model directory as a handle: classifiers for the text task, bare encoders for embeddings,
    image classifiers for the classification task."""
    config = _load_config(path)
    architectures = config.architectures or []
    if any(name.endswith("ForSequenceClassification") for name in architectures):
        return _load_text_classifier(path, config, bundle)
    if any(name.endswith("ForImageClassification") for name in architectures):
        return _load_image_classifier(path, config, bundle)
    if any(name.endswith("Model") for name in architectures):
        return _load_embedder(path, bundle)
    raise InputFileError(
        f"{path} holds {', '.join(architectures) or 'a model with no recorded architecture'}; supported: "
        "*ForSequenceClassification and *ForImageClassification classifiers, and bare encoders (*Model) for "
        "sentence embeddings"
    )


def _tokenized_spec(path: Path, config: Any) -> InputSpec:
    tokenizer = hf_tokenizer(str(path))
    positions = getattr(config, "max_position_embeddings", MAX_LENGTH)
    return text_input_spec(min(MAX_LENGTH, positions, int(tokenizer.model_max_length)), tokenizer=str(path))


@contextlib.contextmanager
def _without_progress_bars() -> Iterator[None]:
    """transformers draws a bar for each local load and save (instant here, and it cluttered the commands'
    own progress); the caller's setting is restored after."""
    logging = import_transformers().utils.logging
    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()


def _load_pretrained(auto_class: Any, path: Path) -> nn.Module:
    try:
        with _without_progress_bars():
            return auto_class.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as error:
        raise InputFileError(f"{path}: cannot load the model weights: {brief(error)}") from error


def _load_embedder(path: Path, bundle: DatasetBundle) -> ModelHandle:
    require_text_bundle(bundle, str(path), labels_needed=False)
    pooling = _pooling(path)
    model = _load_pretrained(import_transformers().AutoModel, path)
    return ModelHandle(
        name=path.name,
        task=EMBEDDING_TASK,
        input_spec=_tokenized_spec(path, model.config),
        class_names=[],
        module=SentenceEmbedder(model, pooling).eval(),
        source=str(path),
        weights=str(path),
    )


def _load_text_classifier(path: Path, config: Any, bundle: DatasetBundle) -> ModelHandle:
    text = require_text_bundle(bundle, str(path))
    auto_class = import_transformers().AutoModelForSequenceClassification
    spec = _tokenized_spec(path, config)
    return _classifier_handle(path, config, bundle, TEXT_TASK, spec, auto_class, SequenceClassifier, text.class_names)


def _load_image_classifier(path: Path, config: Any, bundle: DatasetBundle) -> ModelHandle:
    if bundle.task != IMAGE_TASK:
        raise ModelMismatchError(
            f"{path} is an image classifier but {bundle.name} is a {bundle.task} dataset; "
            "pass --data shapes or an ImageFolder directory"
        )
    auto_class = import_transformers().AutoModelForImageClassification
    spec, bgr = image_processor_input(path, int(getattr(config, "num_channels", 3)))
    wrapper = BgrImageClassifier if bgr else ImageClassifier
    return _classifier_handle(path, config, bundle, IMAGE_TASK, spec, auto_class, wrapper, bundle.class_names)


def _classifier_handle(
    path: Path,
    config: Any,
    bundle: DatasetBundle,
    task: str,
    spec: InputSpec,
    auto_class: Any,
    wrapper: type[SequenceClassifier | ImageClassifier],
    class_names: list[str] | tuple[str, ...],
) -> ModelHandle:
    """A classifier directory (or one `compress prune` wrote) as a handle for `task`, if its label count
    is the dataset's."""
    if config.num_labels != len(class_names):
        raise ModelMismatchError(
            f"{path} predicts {config.num_labels} labels but {bundle.name} has {len(class_names)}; "
            "pass the dataset it was fine-tuned on"
        )
    order = label_order(str(path), config, list(class_names))
    record = _compressor_record(path)
    changes = record.get(ARCHITECTURE_CHANGES)
    module = (
        _load_pruned(wrapper(auto_class.from_config(config), order), path, changes)
        if changes
        else wrapper(_load_pretrained(auto_class, path), order)
    )
    return ModelHandle(
        name=path.name,
        task=task,
        input_spec=spec,
        class_names=list(class_names),
        module=module.eval(),
        source=str(path),
        weights=str(path),
        metadata={key: value for key, value in record.items() if key in (ARCHITECTURE_CHANGES, "pruning")},
    )


def _compressor_record(path: Path) -> dict[str, Any]:
    """What compressor wrote beside the model (TRAINING_RECORD), or nothing for other directories."""
    record = path / TRAINING_RECORD
    if not record.is_file():
        return {}
    try:
        return dict(json.loads(record.read_text()))
    except (OSError, ValueError) as error:
        raise InputFileError(f"{record}: unreadable record: {brief(error)}") from error


def _load_pruned(module: _Classifier, path: Path, changes: dict[str, Any]) -> _Classifier:
    """A classifier `compress prune` narrowed: its config still says the original widths (per-layer widths
    do not fit a config), so `module` is built from the config, resized by the recorded changes, and the
    saved tensors loaded strictly."""
    from safetensors.torch import load_file

    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise InputFileError(f"{path}: a pruned model directory without its .safetensors weights")
    state = {f"model.{key}": tensor for file in files for key, tensor in load_file(str(file)).items()}
    apply_architecture_changes(module, changes, state)
    apply_state_dict(module, state, str(path))
    return module


# What compressor records about a model directory it wrote (training options, best epoch), beside its files.
TRAINING_RECORD = "compressor.json"


HF_WRAPPERS = (SequenceClassifier, ImageClassifier, SentenceEmbedder)


def is_hf_model(handle: ModelHandle) -> bool:
    return isinstance(handle.module, HF_WRAPPERS)


def _own_weight_names(model: nn.Module, pruned: bool) -> dict[str, bool]:
    """save_pretrained's options for a pruned model: transformers 5 renames some weights back to their hub
    names on save (ViT's q_proj to attention.query) and renames them again when it loads them, but a pruned
    model is loaded by `_load_pruned` from the tensors themselves, so they keep the module's own names.
    transformers 4 renames nothing and has no such option."""
    keeps_names = "save_original_format" in inspect.signature(model.save_pretrained).parameters
    return {"save_original_format": False} if pruned and keeps_names else {}


def save_hf_directory(handle: ModelHandle, output: Path, description: dict[str, Any]) -> None:
    """The trained model as a directory like its source (tokenizer and pooling config copied), replaced whole.

    Built beside `output` and renamed into place, so an interrupted save leaves the old directory."""
    assert isinstance(handle.module, HF_WRAPPERS)
    staging = output.with_name(f".{output.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(handle.source, staging)
    pruned = ARCHITECTURE_CHANGES in description
    with _without_progress_bars():
        handle.module.model.save_pretrained(str(staging), **_own_weight_names(handle.module.model, pruned))
    (staging / TRAINING_RECORD).write_text(json.dumps(description, indent=2))
    retired = output.with_name(f".{output.name}.old")
    if output.exists():
        output.rename(retired)
    staging.rename(output)
    shutil.rmtree(retired, ignore_errors=True)
