"""Small Hugging Face image classifiers as local `save_pretrained` directories, with the image processor
config beside them: what the Hugging Face image tests run on, since nothing may be downloaded here.
Needs the `transformers` extra."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers

from compressor.core.handle import IMAGENET_MEAN, IMAGENET_STD

# Per family: a config for a model of a few thousand parameters, and its image processor (as the hub's
# checkpoints of the family ship them: ViT resizes to height x width with mean and std 0.5; ConvNeXt
# and ResNet resize the shortest edge with ImageNet's statistics).
FAMILIES = {
    "vit": lambda size: (
        transformers.ViTConfig(
            image_size=size, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64,
        ),
        transformers.ViTImageProcessor(size={"height": size, "width": size}),
    ),
    "resnet": lambda size: (
        transformers.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic"),
        transformers.ConvNextImageProcessor(
            size={"shortest_edge": size}, image_mean=list(IMAGENET_MEAN), image_std=list(IMAGENET_STD)
        ),
    ),
}  # fmt: skip


def save_classifier(directory: Path, config: transformers.PretrainedConfig, processor: object) -> Path:
    """An untrained `*ForImageClassification` for `config` (seed 0) and `processor`'s config in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    transformers.AutoModelForImageClassification.from_config(config).eval().save_pretrained(directory)
    processor.save_pretrained(directory)  # type: ignore[attr-defined]
    return directory


def build_tiny_image_classifier(directory: Path, num_labels: int, family: str = "vit", size: int = 32) -> Path:
    """An untrained `*ForImageClassification` of `family` (seed 0) and its image processor in `directory`."""
    config, processor = FAMILIES[family](size)
    config.num_labels = num_labels
    return save_classifier(directory, config, processor)
