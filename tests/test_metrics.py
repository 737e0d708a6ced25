"""The task metrics on examples small enough to score by hand: top-1/top-5, accuracy, mean cosine, COCO mAP
with precision and recall, and the agreement and parity that export and quantization checks report."""

from __future__ import annotations

import math

import pytest
import torch

from compressor.tasks.classification import ClassificationTask, TopKAccuracy
from compressor.tasks.detection import CocoDetectionMetric, DetectionTask, _greedy_matches
from compressor.tasks.embedding import EmbeddingTask, MeanCosine
from compressor.tasks.text import Accuracy

DESCENDING = [[6.0, 5, 4, 3, 2, 1]]  # class 0 first ... class 5 sixth


def test_top1_and_top5_accumulate_over_batches() -> None:
    metric = TopKAccuracy()
    metric.update([torch.tensor(DESCENDING * 2)], torch.tensor([0, 4]))  # first: both; fifth: top-5 only
    metric.update([torch.tensor(DESCENDING + [[1.0, 2, 3, 4, 5, 6]])], torch.tensor([5, 5]))  # sixth: neither; first
    assert metric.compute() == {"top1": 2 / 4, "top5": 3 / 4}


def test_top5_is_left_out_where_a_model_has_5_classes_or_fewer() -> None:
    metric = TopKAccuracy()
    metric.update([torch.tensor([[3.0, 2.0, 1.0]])], torch.tensor([2]))  # any 3-class answer is in a "top 5"
    assert metric.compute() == {"top1": 0.0}
    six = TopKAccuracy()
    six.update([torch.tensor(DESCENDING)], torch.tensor([4]))
    assert six.compute() == {"top1": 0.0, "top5": 1.0}


def test_an_empty_metric_is_nan_not_zero() -> None:
    assert all(math.isnan(value) for value in TopKAccuracy().compute().values())
    assert list(TopKAccuracy().compute()) == ["top1", "top5"]
    (accuracy,) = Accuracy().compute().items()
    assert accuracy[0] == "accuracy" and math.isnan(accuracy[1])
    (cosine,) = MeanCosine().compute().items()
    assert cosine[0] == "cosine" and math.isnan(cosine[1])


def test_accuracy_accumulates_over_batches() -> None:
    metric = Accuracy()
    metric.update([torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])], torch.tensor([1, 1, 1]))
    assert metric.compute() == {"accuracy": 2 / 3}
    metric.update([torch.tensor([[1.0, 0.0]])], torch.tensor([0]))
    assert metric.compute() == {"accuracy": 3 / 4}


def test_mean_cosine_of_integer_embeddings_over_batches() -> None:
    metric = MeanCosine()
    metric.update([torch.tensor([[1, 0], [1, 1]])], torch.tensor([[1, 0], [1, 0]]))  # cosines 1 and 1/sqrt(2)
    metric.update([torch.tensor([[0, 2]])], torch.tensor([[3, 0]]))  # orthogonal: 0
    assert metric.compute()["cosine"] == pytest.approx((1 + 1 / math.sqrt(2) + 0) / 3)


def test_classification_agreement_and_parity() -> None:
    task = ClassificationTask()
    reference = [torch.tensor([[2.0, 1, 0], [0, 2, 1], [0, 1, 2], [2, 0, 1]])]  # predicts 0, 1, 2, 0
    candidate = [torch.tensor([[2.0, 1, 0], [0, 2, 1], [0, 1, 2], [0, 2, 1]])]  # predicts 0, 1, 2, 1
    assert task.agreement(reference, candidate) == 0.75
    assert task.parity(reference, candidate) == (2.0, 0.75)
    # every output counts for the difference; unsigned outputs differ by their distance, not a wrapped-around one
    second_ref, second_cand = torch.tensor([1, 5], dtype=torch.uint8), torch.tensor([4, 5], dtype=torch.uint8)
    assert task.parity([*reference, second_ref], [*candidate, second_cand]) == (3.0, 0.75)
    with pytest.raises(ValueError):  # outputs of different counts are an error, not a comparison of the first few
        task.parity([*reference, second_ref], candidate)


def test_embedding_agreement_needs_a_cosine_of_0_999() -> None:
    reference = [torch.tensor([[1.0, 0.0]] * 4)]
    # cosines 1, 1/sqrt(1.0016) = 0.99920, 1/sqrt(1.0025) = 0.99875, 0
    candidate = [torch.tensor([[1.0, 0.0], [1.0, 0.04], [1.0, 0.05], [0.0, 1.0]])]
    assert EmbeddingTask().agreement(reference, candidate) == 0.5
    assert EmbeddingTask().agreement([reference[0].long()], [reference[0].long()]) == 1.0
    # |(999, 44, 7, 3, 2, 1)| = 1000 exactly: a cosine of exactly 0.999 still agrees
    exact = [torch.tensor([[999.0, 44, 7, 3, 2, 1]])], [torch.tensor([[1.0, 0, 0, 0, 0, 0]])]
    assert EmbeddingTask().agreement(*exact) == 1.0


# detection


def _detections(*images: list[tuple[list[float], float, int]], slots: int = 4) -> list[torch.Tensor]:
    """Model outputs for a batch: (B, slots, 4) boxes, (B, slots) scores and labels, padded with score -1, label -1."""
    boxes, scores, labels = (
        torch.zeros(len(images), slots, 4),
        -torch.ones(len(images), slots),
        -torch.ones(len(images), slots, dtype=torch.int64),
    )
    for index, found in enumerate(images):
        for slot, (box, score, label) in enumerate(found):
            boxes[index, slot], scores[index, slot], labels[index, slot] = torch.tensor(box), score, label
    return [boxes, scores, labels]


def _truth(*objects: tuple[list[float], int]) -> dict[str, torch.Tensor]:
    return {
        "boxes": torch.tensor([box for box, _ in objects]).reshape(-1, 4),
        "labels": torch.tensor([label for _, label in objects], dtype=torch.int64),
    }


def test_greedy_matching_goes_in_score_order_to_the_best_free_box_of_the_same_label() -> None:
    truths = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 12]])
    preds = torch.tensor([[0.0, 0, 10, 12], [0, 0, 10, 11], [0, 0, 10, 10]])
    # the first takes box 1 (IoU 1); the second's best (box 1, 0.917) is taken, so box 0 (0.909); the third: none free
    assert _greedy_matches(preds, torch.tensor([1, 1, 1]), truths, torch.tensor([1, 1])) == [(0, 1), (1, 0)]
    box = torch.tensor([[0.0, 0, 10, 10]])
    assert _greedy_matches(box, torch.tensor([1]), torch.tensor([[0.0, 0, 10, 20]]), torch.tensor([1])) == [(0, 0)]
    assert _greedy_matches(box, torch.tensor([1]), torch.tensor([[0.0, 0, 10, 21]]), torch.tensor([1])) == []
    assert _greedy_matches(box, torch.tensor([2]), box, torch.tensor([1])) == []  # another label
    assert _greedy_matches(box[:0], torch.tensor([], dtype=torch.int64), box, torch.tensor([1])) == []
    assert _greedy_matches(box, torch.tensor([1]), box[:0], torch.tensor([], dtype=torch.int64)) == []


def test_coco_map_precision_and_recall_by_hand() -> None:
    metric = CocoDetectionMetric()
    target = _truth(
        ([5, 10, 15, 30], 1), ([20, 30, 40, 60], 2)
    )  # x1 != y1, w != h: no coordinate stands in for another
    found = [
        ([5, 10, 15, 30], 0.9, 1),  # exact
        ([60, 65, 70, 75], 0.8, 1),  # nothing there
        ([20, 30, 40, 75], 0.5, 2),  # IoU 600/900 = 0.667; confident at exactly 0.5
        ([5, 10, 15, 30], 0.3, 1),  # a duplicate, not confident
    ]
    metric.update(_detections(found), [target])
    scores = metric.compute()
    # class 1: AP 1 at every IoU threshold; class 2: found at the 4 thresholds 0.50..0.65 of the 10 (not at 0.75)
    assert scores["map"] == pytest.approx((1.0 + 0.4) / 2) and scores["map50"] == pytest.approx(1.0)
    assert scores["precision"] == 2 / 3 and scores["recall"] == 1.0  # 3 confident, 2 right; both objects found
    assert list(scores) == ["map", "map50", "precision", "recall"]


def test_coco_metric_accumulates_images_over_updates() -> None:
    metric = CocoDetectionMetric()
    first, second = ([10, 10, 20, 30], 1), ([40, 40, 80, 60], 2)
    metric.update(_detections([(first[0], 0.9, 1)], [(second[0], 0.8, 2), (first[0], 0.7, 1)]), [
        _truth(first),
        _truth(second, first),
    ])  # fmt: skip
    metric.update(_detections([(second[0], 0.6, 2)]), [_truth(second)])
    assert metric.compute() == {"map": pytest.approx(1.0), "map50": pytest.approx(1.0), "precision": 1.0, "recall": 1.0}


def test_recall_counts_every_object_and_precision_only_confident_detections() -> None:
    metric = CocoDetectionMetric()
    metric.update(_detections([([0, 0, 10, 10], 0.9, 1)]), [_truth(([0, 0, 10, 10], 1), ([20, 20, 30, 40], 1))])
    scores = metric.compute()
    assert (scores["precision"], scores["recall"]) == (1.0, 0.5)
    # COCO's 101-point interpolation: precision 1 up to recall 0.5, i.e. at 51 of its 101 recall points
    assert scores["map50"] == pytest.approx(51 / 101) and scores["map"] == pytest.approx(51 / 101)


def test_one_object_found_once_is_perfect() -> None:
    metric = CocoDetectionMetric()
    metric.update(_detections([([3, 4, 13, 24], 0.9, 7)]), [_truth(([3, 4, 13, 24], 7))])
    assert metric.compute() == {"map": pytest.approx(1.0), "map50": pytest.approx(1.0), "precision": 1.0, "recall": 1.0}


def test_outputs_past_boxes_scores_and_labels_are_ignored() -> None:
    extra = torch.zeros(1, 4, 91)  # say, a detector's raw class scores
    metric = CocoDetectionMetric()
    metric.update([*_detections([([3, 4, 13, 24], 0.9, 7)]), extra], [_truth(([3, 4, 13, 24], 7))])
    assert metric.compute()["recall"] == 1.0
    outputs = [*_detections([([3, 4, 13, 24], 0.9, 7)]), extra]
    assert DetectionTask().parity(outputs, outputs) == (0.0, 1.0)


def test_a_target_with_more_boxes_than_labels_is_an_error() -> None:
    metric = CocoDetectionMetric()
    broken = {"boxes": torch.tensor([[0.0, 0, 10, 10], [5, 5, 20, 20]]), "labels": torch.tensor([1])}
    metric.update(_detections([([0, 0, 10, 10], 0.9, 1)]), [broken])
    with pytest.raises(ValueError):
        metric.compute()


def test_a_zero_score_detection_counts_for_map_but_not_for_precision() -> None:
    metric = CocoDetectionMetric()
    metric.update(_detections([([0, 0, 10, 10], 0.0, 1)]), [_truth(([0, 0, 10, 10], 1))])
    assert metric.compute() == {"map": pytest.approx(1.0), "map50": pytest.approx(1.0), "precision": 0.0, "recall": 0.0}


def test_no_detections_or_no_images_score_zero() -> None:
    metric = CocoDetectionMetric()
    metric.update(_detections([]), [_truth(([0, 0, 10, 10], 1))])
    assert metric.compute() == {"map": 0.0, "map50": 0.0, "precision": 0.0, "recall": 0.0}
    assert CocoDetectionMetric().compute() == {"map": 0.0, "map50": 0.0, "precision": 0.0, "recall": 0.0}


def test_detection_agreement_and_parity_over_confident_matches() -> None:
    reference = _detections(
        [([0, 0, 10, 10], 0.9, 1), ([20, 20, 30, 30], 0.6, 2), ([50, 50, 60, 60], 0.3, 1)],
        [([0, 0, 10, 10], 0.5, 4)],  # confident at exactly 0.5
    )
    candidate = _detections(
        [([1, 0, 11, 10], 0.8, 1), ([20, 20, 30, 30], 0.7, 3)],  # IoU 90/110; the second has another label
        [([0, 0, 10, 10], 0.75, 4)],
    )
    task = DetectionTask()
    assert task.agreement(reference, candidate) == 2 / 3  # 2 of the 3 confident reference detections found again
    assert task.parity(reference, candidate) == (1.0, 2 / 3)  # the largest difference: a box edge moved by 1
    assert task.parity([t[1:] for t in reference], [t[1:] for t in candidate]) == (0.25, 1.0)  # the score's 0.25


def test_candidate_detections_count_from_a_score_of_0_5() -> None:
    reference = _detections([([0, 0, 10, 10], 0.9, 1)], [([0, 0, 10, 10], 0.9, 1)])
    candidate = _detections([([0, 0, 10, 10], 0.5, 1)], [([0, 0, 10, 10], 0.49, 1)])
    assert DetectionTask().agreement(reference, candidate) == 0.5
    assert DetectionTask().parity(reference, candidate) == (pytest.approx(0.4), 0.5)


def test_detection_agreement_without_confident_reference_detections_is_full() -> None:
    reference = _detections([([0, 0, 10, 10], 0.4, 1)])
    candidate = _detections([([0, 0, 10, 10], 0.9, 1)])
    assert DetectionTask().agreement(reference, candidate) == 1.0
    assert DetectionTask().parity(reference, candidate) == (0.0, 1.0)


def test_weights_held_in_constant_nodes_count_as_parameters() -> None:
    """paddle2onnx stores weights as Constant nodes; quantizing turns them into initializers. One model, one count."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    from compressor.measurement.footprint import weight_count

    weight = numpy_helper.from_array(np.ones((4, 3), dtype=np.float32), "w")
    shape = numpy_helper.from_array(np.array([1, 12], dtype=np.int64), "s")
    as_constants = helper.make_graph(
        [
            helper.make_node("Constant", [], ["w"], value=weight),
            helper.make_node("Constant", [], ["s"], value=shape),  # a shape, not a weight
            helper.make_node("MatMul", ["x", "w"], ["y"]),
        ],
        "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])],
    )  # fmt: skip
    as_initializers = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])], initializer=[weight],
    )  # fmt: skip
    assert weight_count(as_constants) == weight_count(as_initializers) == 12
