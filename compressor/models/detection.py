"""Reference detectors: torchvision models behind a tensor-in, tensor-out interface.

torchvision detectors take a list of images and return a list of dicts of varying length; runners,
ONNX export and timing want tensors. `Detector` keeps the whole pipeline (resize, normalisation,
network, box decoding, NMS) inside one module and pads its outputs to a fixed number of detections.
Class labels are 0..C-1 outside (as in the datasets) and 1..C inside (0 is torchvision's background).
"""

from __future__ import annotations

import importlib
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from compressor.models.registry import register

MAX_DETECTIONS = 100
DETECTION_SIZE = (320, 320)


def pad_detections(detections: list[dict[str, torch.Tensor]], count: int) -> list[torch.Tensor]:
    """Stack per-image detections into (B, count, 4) boxes, (B, count) scores and labels; pads score -1, label -1."""
    boxes, scores, labels = [], [], []
    for found in detections:
        missing = count - found["scores"][:count].shape[0]
        boxes.append(F.pad(found["boxes"][:count], (0, 0, 0, missing)))
        scores.append(F.pad(found["scores"][:count], (0, missing), value=-1.0))
        labels.append(F.pad(found["labels"][:count] - 1, (0, missing), value=-1))
    return [torch.stack(boxes), torch.stack(scores), torch.stack(labels)]


class Detector(nn.Module):
    """images (B, 3, H, W) in [0, 1] -> [boxes, scores, labels] padded; with targets in train mode, the loss dict."""

    def __init__(self, detector: nn.Module, max_detections: int = MAX_DETECTIONS) -> None:
        super().__init__()
        self.detector = detector
        self.max_detections = max_detections

    def forward(
        self, images: torch.Tensor, targets: list[dict[str, torch.Tensor]] | None = None
    ) -> list[torch.Tensor] | dict[str, torch.Tensor]:
        if self.training and targets is not None:
            shifted = [{"boxes": t["boxes"], "labels": t["labels"] + 1} for t in targets]
            return self.detector(list(images), shifted)
        return pad_detections(self.detector(list(images)), self.max_detections)

    def unprunable_modules(self) -> list[nn.Module]:
        """Everything but the backbone: pruning may narrow the backbone's features (the heads' inputs
        follow), but the heads' outputs are the boxes and classes."""
        backbone = set(self.detector.backbone.modules())
        return [module for module in self.modules() if module not in backbone]


def _torchvision_detector(builder_name: str, count_option: str, num_classes: int) -> nn.Module:
    """A detector with fresh weights (backbone included; published ones only on request, models/pretrained.py),
    one extra class for the background.
    torchvision is imported here, not with the module, so listing the zoo does not wait for it."""
    builder = getattr(importlib.import_module("torchvision.models.detection"), builder_name)
    model = builder(weights=None, weights_backbone=None, num_classes=num_classes + 1, **{count_option: MAX_DETECTIONS})
    return Detector(model)


# name -> (torchvision.models.detection builder, its option for detections per image, description)
TORCHVISION_DETECTORS = {
    "ssdlite320_mobilenet_v3_large": (
        "ssdlite320_mobilenet_v3_large",
        "detections_per_img",
        "SSDlite 320 with a MobileNetV3-Large backbone: the edge detector.",
    ),
    "fasterrcnn_mobilenet_v3_large_320_fpn": (
        "fasterrcnn_mobilenet_v3_large_320_fpn",
        "box_detections_per_img",
        "Faster R-CNN, MobileNetV3-Large FPN backbone, 320 px: the two-stage detector.",
    ),
}

for _name, (_builder, _count_option, _description) in TORCHVISION_DETECTORS.items():
    register(
        _name,
        task="detection",
        input_size=DETECTION_SIZE,
        source="torchvision",
        reference_epochs=3,
        description=_description,
    )(partial(_torchvision_detector, _builder, _count_option))
