"""Object detection: images in, padded boxes/scores/labels out, COCO mAP from pycocotools.

Detectors run as `Detector` modules (compressor/models/detection.py): the whole pipeline (resize,
normalisation, network, box decoding, NMS) sits inside the model, so torch and ONNX rows time the
same work. Outputs are padded to a fixed count; padding has score -1 and label -1.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch
from torch import nn
from torchvision.ops import box_iou

from compressor.core.handle import InputSpec
from compressor.tasks.base import TaskBase

Target = dict[str, torch.Tensor]
CONFIDENCE = 0.5  # for precision, recall and parity agreement
MATCH_IOU = 0.5


def _valid(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
    keep = scores >= 0
    return boxes[keep], scores[keep], labels[keep]


def _greedy_matches(
    pred_boxes: torch.Tensor, pred_labels: torch.Tensor, true_boxes: torch.Tensor, true_labels: torch.Tensor
) -> list[tuple[int, int]]:
    """(pred, true) index pairs: each prediction, in the given (score) order, takes the best free same-label box."""
    if len(pred_boxes) == 0 or len(true_boxes) == 0:
        return []
    iou = box_iou(pred_boxes, true_boxes)
    iou[pred_labels.view(-1, 1) != true_labels.view(1, -1)] = 0
    taken: set[int] = set()
    pairs = []
    for p in range(len(pred_boxes)):
        for t in iou[p].argsort(descending=True).tolist():
            if iou[p, t] < MATCH_IOU:
                break
            if t not in taken:
                taken.add(t)
                pairs.append((p, t))
                break
    return pairs


class CocoDetectionMetric:
    """COCO mAP@[.5:.95] and mAP@.5 (pycocotools), plus precision and recall at confidence 0.5, IoU 0.5."""

    def __init__(self) -> None:
        self.predictions: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.truths: list[tuple[np.ndarray, np.ndarray]] = []

    def update(self, outputs: list[torch.Tensor], targets: list[Target]) -> None:
        boxes, scores, labels = outputs[:3]
        for index, target in enumerate(targets):
            kept = _valid(boxes[index], scores[index], labels[index].long())
            self.predictions.append(tuple(t.numpy() for t in kept))  # type: ignore[arg-type]
            self.truths.append((target["boxes"].numpy(), target["labels"].numpy()))

    def _coco_map(self) -> tuple[float, float]:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        categories = sorted({int(c) for _, labels in self.truths for c in labels} | {0})
        annotations, detections = [], []
        for image_id, ((true_boxes, true_labels), (boxes, scores, labels)) in enumerate(
            zip(self.truths, self.predictions, strict=True)
        ):
            for box, label in zip(true_boxes, true_labels, strict=True):
                w, h = float(box[2] - box[0]), float(box[3] - box[1])
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": int(label),
                        "bbox": [float(box[0]), float(box[1]), w, h],
                        "area": w * h,
                        "iscrowd": 0,
                    }
                )
            for box, score, label in zip(boxes, scores, labels, strict=True):
                detections.append(
                    {
                        "image_id": image_id,
                        "category_id": int(label),
                        "score": float(score),
                        "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])],
                    }
                )
        if not annotations or not detections:
            return 0.0, 0.0
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
            truth = COCO()
            truth.dataset = {
                "images": [{"id": i} for i in range(len(self.truths))],
                "annotations": annotations,
                "categories": [{"id": c} for c in categories],
            }
            truth.createIndex()
            evaluator = COCOeval(truth, truth.loadRes(detections), iouType="bbox")
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        return max(0.0, float(evaluator.stats[0])), max(0.0, float(evaluator.stats[1]))

    def _precision_recall(self) -> tuple[float, float]:
        true_positives = predicted = actual = 0
        for (true_boxes, true_labels), (boxes, scores, labels) in zip(self.truths, self.predictions, strict=True):
            confident = scores >= CONFIDENCE
            pairs = _greedy_matches(
                torch.from_numpy(boxes[confident]),
                torch.from_numpy(labels[confident]),
                torch.from_numpy(true_boxes),
                torch.from_numpy(true_labels),
            )
            true_positives += len(pairs)
            predicted += int(confident.sum())
            actual += len(true_labels)
        return true_positives / max(1, predicted), true_positives / max(1, actual)

    def compute(self) -> dict[str, float]:
        mean_ap, ap50 = self._coco_map()
        precision, recall = self._precision_recall()
        return {"map": mean_ap, "map50": ap50, "precision": precision, "recall": recall}


class DetectionTask(TaskBase):
    name = "detection"
    primary_metric = "map"
    input_names = ("images",)
    output_names = ("boxes", "scores", "labels")
    eval_batch_size = 1
    train_batch_size = 8
    fixed_batch_size = 1  # torchvision detectors export to ONNX for one image at a time
    int8_post_processing_in_float = True  # box decoding and NMS: coordinates need float precision
    measurement_note = (
        "detection latency and FPS cover the whole pipeline: resize and normalisation, the network, "
        "box decoding and NMS (all inside the model)"
    )

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        return {}

    def collate(self, samples: list[tuple[torch.Tensor, Target]]) -> tuple[torch.Tensor, list[Target]]:
        return torch.stack([image for image, _ in samples]), [target for _, target in samples]

    def pixel_normalisation(self, spec: InputSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """None: the detector takes pixels / 255 and normalises them inside (whatever `spec` records)."""
        return (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)

    def resize_before_crop(self, spec: InputSpec) -> tuple[int, ...]:
        """Exactly to the input size, aspect not kept, as detection data is resized (boxes scaled with it)."""
        return spec.image_size

    def prepare_batch(
        self, batch: tuple[torch.Tensor, list[Target]], spec: InputSpec
    ) -> tuple[list[torch.Tensor], list[Target]]:
        """uint8 images to [0, 1] floats; the detector normalises them itself."""
        images, targets = batch
        return [images.float().div_(255.0)], targets

    def training_loss(self, module: nn.Module, inputs: list[torch.Tensor], targets: list[Target]) -> torch.Tensor:
        device = inputs[0].device
        placed = [{key: value.to(device) for key, value in target.items()} for target in targets]
        losses = module(inputs[0], placed)
        return sum(losses.values())  # type: ignore[return-value]

    def new_metric(self) -> CocoDetectionMetric:
        return CocoDetectionMetric()

    def _matched(self, reference: list[torch.Tensor], candidate: list[torch.Tensor]) -> tuple[float, int, int]:
        """Largest box/score difference over matched confident detections, matches, and reference count."""
        max_diff, matched, total = 0.0, 0, 0
        for index in range(reference[0].shape[0]):
            ref = _valid(*(tensor[index] for tensor in reference[:3]))
            cand = _valid(*(tensor[index] for tensor in candidate[:3]))
            ref_keep, cand_keep = ref[1] >= CONFIDENCE, cand[1] >= CONFIDENCE
            pairs = _greedy_matches(ref[0][ref_keep], ref[2][ref_keep], cand[0][cand_keep], cand[2][cand_keep])
            total += int(ref_keep.sum())
            matched += len(pairs)
            for r, c in pairs:
                box_diff = float((ref[0][ref_keep][r] - cand[0][cand_keep][c]).abs().max())
                score_diff = float((ref[1][ref_keep][r] - cand[1][cand_keep][c]).abs())
                max_diff = max(max_diff, box_diff, score_diff)
        return max_diff, matched, total

    def agreement(self, reference: list[torch.Tensor], candidate: list[torch.Tensor]) -> float:
        """Fraction of the reference's confident detections found again (same label, IoU >= 0.5)."""
        _, matched, total = self._matched(reference, candidate)
        return matched / total if total else 1.0

    def parity(self, reference: list[torch.Tensor], candidate: list[torch.Tensor]) -> tuple[float, float]:
        max_diff, matched, total = self._matched(reference, candidate)
        return max_diff, (matched / total if total else 1.0)

    def example_inputs(self, spec: InputSpec, batch_size: int) -> list[torch.Tensor]:
        return [torch.rand(batch_size, *spec.shape)]
