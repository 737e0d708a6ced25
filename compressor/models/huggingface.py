"""Hugging Face sequence classifiers saved with `save_pretrained`, loaded from their local directory.

`transformers` is an optional extra, imported only here and only when such a directory is loaded.
Nothing is downloaded: the model and its tokenizer must both be in the directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from compressor.data.base import DatasetBundle
from compressor.data.text import (
    MAX_LENGTH,
    TEXT_TASK,
    hf_tokenizer,
    import_transformers,
    require_text_bundle,
    text_input_spec,
)
from compressor.errors import InputFileError, ModelMismatchError, brief
from compressor.models.handle import ModelHandle


class SequenceClassifier(nn.Module):
    """Positional (input_ids, attention_mask) in, logits out: the text task's interface, for any HF classifier."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def _load_config(path: Path) -> Any:
    if not (path / "config.json").is_file():
        raise InputFileError(f"{path} is a directory but not a Hugging Face model (no config.json)")
    try:
        return import_transformers().AutoConfig.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise InputFileError(f"{path}: unreadable Hugging Face config: {brief(error)}") from error


def load_hf_classifier(path: Path, bundle: DatasetBundle) -> ModelHandle:
    """A sequence-classification model directory as a text-task handle (tokenizer from the same directory)."""
    config = _load_config(path)
    architectures = config.architectures or []
    if not any(name.endswith("ForSequenceClassification") for name in architectures):
        raise InputFileError(
            f"{path} holds {', '.join(architectures) or 'a model with no recorded architecture'}; "
            "only *ForSequenceClassification models are supported"
        )
    text = require_text_bundle(bundle, str(path))
    if config.num_labels != text.num_classes:
        raise ModelMismatchError(
            f"{path} predicts {config.num_labels} labels but {text.name} has {text.num_classes}; "
            "pass the dataset it was fine-tuned on"
        )
    transformers = import_transformers()
    try:
        model = transformers.AutoModelForSequenceClassification.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as error:
        raise InputFileError(f"{path}: cannot load the model weights: {brief(error)}") from error
    tokenizer = hf_tokenizer(str(path))
    positions = getattr(config, "max_position_embeddings", MAX_LENGTH)
    max_length = min(MAX_LENGTH, positions, int(tokenizer.model_max_length))
    return ModelHandle(
        name=path.name,
        task=TEXT_TASK,
        input_spec=text_input_spec(max_length, tokenizer=str(path)),
        class_names=list(text.class_names),
        module=SequenceClassifier(model).eval(),
        source=str(path),
        weights=str(path),
    )
