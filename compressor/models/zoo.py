"""Built-in reference models. Every factory builds a fresh network; published weights are loaded into
it only on request (`--weights imagenet`, compressor/models/pretrained.py).

torchvision is imported by the factories that build its models, not here: listing the zoo
(`compress models`) then takes a second or two less (torchvision's import pulls in torch's compiler).
"""

from __future__ import annotations

import importlib
from functools import partial

from torch import nn

from compressor.core.errors import ModelMismatchError
from compressor.core.handle import InputSpec
from compressor.data.text import MAX_LENGTH
from compressor.models.registry import register
from compressor.models.text import text_transformer, text_transformer_spec

IMAGENET_SIZE = (224, 224)


# torchvision classifiers: name -> description. Built with weights=None and the dataset's classes.
TORCHVISION_CLASSIFIERS = {
    "mobilenet_v2": "MobileNetV2: inverted residuals, depthwise convs.",
    "mobilenet_v3_small": "MobileNetV3-Small: SE blocks and hard-swish (first block stride 1 below 128 px).",
    "mobilenet_v3_large": "MobileNetV3-Large: SE blocks and hard-swish.",
    "densenet121": "DenseNet-121: dense blocks of concatenated features.",
    "resnet18": "ResNet-18: basic residual blocks.",
    "resnet50": "ResNet-50: bottleneck residual blocks.",
}


# MobileNetV3-Small trains best at lr 2e-3 with the global gradient norm clipped to 1; at higher lr its
# first epochs stay near chance.
TRAIN_RECIPES = {"mobilenet_v3_small": {"lr": 2e-3, "max_grad_norm": 1.0}}

# Below this input side MobileNetV3-Small's first block keeps stride 1, as CIFAR-sized variants do, so
# small inputs are not downsampled to almost nothing; weight shapes are unchanged.
SMALL_INPUT_SIDE = 128


def _torchvision_classifier(arch: str, num_classes: int) -> nn.Module:
    return getattr(importlib.import_module("torchvision.models"), arch)(weights=None, num_classes=num_classes)


def _mobilenet_v3_small(num_classes: int, spec: InputSpec) -> nn.Module:
    model = _torchvision_classifier("mobilenet_v3_small", num_classes)
    if min(spec.image_size) < SMALL_INPUT_SIDE:
        model.features[1].block[0][0].stride = (1, 1)  # the first block's depthwise conv
    return model


# Torchvision classifiers whose factory does more than the plain torchvision call.
ADAPTED_FACTORIES = {"mobilenet_v3_small": _mobilenet_v3_small}
# Zoo revisions above 1: (revision, what it changed).
REVISIONS = {
    "mobilenet_v3_small": (2, f"since 2026-12-01 its first block runs at stride 1 below {SMALL_INPUT_SIDE} px"),
}

for _arch, _description in TORCHVISION_CLASSIFIERS.items():
    _revision, _revision_note = REVISIONS.get(_arch, (1, ""))
    register(
        _arch,
        task="classification",
        input_size=IMAGENET_SIZE,
        source="torchvision",
        description=_description,
        train_recipe=TRAIN_RECIPES.get(_arch),
        revision=_revision,
        revision_note=_revision_note,
    )(ADAPTED_FACTORIES.get(_arch, partial(_torchvision_classifier, _arch)))


class TinyCNN(nn.Sequential):
    """A small depthwise-separable CNN: fast enough for smoke tests and CI gates."""

    def __init__(self, num_classes: int, width: int = 16) -> None:
        def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
                nn.BatchNorm2d(cin),
                nn.ReLU(inplace=True),
                nn.Conv2d(cin, cout, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]

        super().__init__(
            nn.Conv2d(3, width, 3, 2, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            *block(width, width * 2, 2),
            *block(width * 2, width * 4, 2),
            *block(width * 4, width * 4, 1),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(width * 4, num_classes),
        )


@register("tiny_cnn", task="classification", input_size=(64, 64), source="compressor", reference_epochs=8)
def tiny_cnn(num_classes: int) -> nn.Module:
    """Tiny depthwise-separable CNN for smoke tests and CI."""
    return TinyCNN(num_classes)


VIT_PATCH = 8


# A convolutional stem (three stride-2 3x3 convs, "Early Convolutions Help Transformers See Better")
# instead of one 8x8 patchify conv, which leaves this small ViT hard to train from scratch.
VIT_STEM = [(48, 3, 2), (96, 3, 2), (192, 3, 2)]  # (out_channels, kernel_size, stride) of each conv


@register(
    "vit_tiny",
    task="classification",
    input_size=(64, 64),
    source="torchvision",
    reference_epochs=30,
    train_recipe={"lr": 3e-4, "max_grad_norm": 1.0},  # from scratch, lr 5e-4 and above stalls at chance
)
def vit_tiny(num_classes: int, spec: InputSpec) -> nn.Module:
    """Vision Transformer: conv stem to 8x8-pixel tokens, 4 layers, width 192, 3 heads (torchvision's class)."""
    height, width = spec.image_size
    if height != width or height % VIT_PATCH:
        raise ModelMismatchError(f"vit_tiny takes square images whose side is a multiple of 8, not {height}x{width}")
    from torchvision.models.vision_transformer import ConvStemConfig, VisionTransformer

    return VisionTransformer(
        image_size=height,
        patch_size=VIT_PATCH,
        num_layers=4,
        num_heads=3,
        hidden_dim=192,
        mlp_dim=768,
        num_classes=num_classes,
        conv_stem_configs=[ConvStemConfig(*layer) for layer in VIT_STEM],
    )


register(
    "text_transformer",
    task="text",
    input_size=(MAX_LENGTH,),
    source="compressor",
    reference_epochs=6,
    description="Small Transformer encoder (2 layers, width 64) over a word vocabulary from the train split.",
    input_spec=text_transformer_spec,
)(text_transformer)
