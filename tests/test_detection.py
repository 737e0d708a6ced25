"""Detection: the shapes-det data, COCO mAP, the Detector wrapper, ONNX export and bench rows."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from compressor import commands
from compressor.core.errors import DataError
from compressor.core.handle import InputSpec
from compressor.data import load_dataset
from compressor.data.shapes import draw_background
from compressor.data.shapes_det import CLUTTER_ITEMS as DET_CLUTTER_ITEMS
from compressor.data.shapes_det import DETECTION_CLASSES, ShapesDetectionDataset, render_detection_sample
from compressor.methods.quantize import Int8Request
from compressor.methods.speed_tune import candidate_groups
from compressor.models.catalog import get_entry
from compressor.models.detection import pad_detections
from compressor.report.schema import to_markdown
from compressor.tasks.detection import CocoDetectionMetric, DetectionTask

SPEC = InputSpec.image((320, 320))


def test_shapes_det_is_deterministic_with_boxes_inside_the_image() -> None:
    first = ShapesDetectionDataset("val", 20)
    second = ShapesDetectionDataset("val", 20)
    counts = []
    for index in range(20):
        image, target = first[index]
        again, target_again = second[index]
        assert torch.equal(image, again) and torch.equal(target["boxes"], target_again["boxes"])
        boxes = target["boxes"]
        assert image.shape == (3, 320, 320) and image.dtype == torch.uint8
        assert ((boxes[:, 2:] > boxes[:, :2]).all()) and boxes.min() >= 0 and boxes.max() <= 320
        assert ((target["labels"] >= 0) & (target["labels"] < len(DETECTION_CLASSES))).all()
        counts.append(len(boxes))
    assert min(counts) >= 1 and max(counts) >= 3  # several shapes per image


def test_boxes_frame_the_drawn_pixels() -> None:
    image, boxes, _ = render_detection_sample(np.random.default_rng(3))
    # The bare background, redrawn from the same stream (it is drawn first): a box's std alone passes on
    # the gradient and clutter with no object drawn. Drawn pixels differ from it by far more than the noise.
    background = draw_background(np.random.default_rng(3), 320, DET_CLUTTER_ITEMS).canvas
    drawn = np.abs(image.astype(np.float32) - np.asarray(background, dtype=np.float32)).sum(axis=-1) > 60
    assert len(boxes) >= 2
    for x1, y1, x2, y2 in boxes.astype(int):
        inside = drawn[y1:y2, x1:x2]
        assert inside.mean() > 0.25  # the object fills a good part of its box ...
        ys, xs = np.nonzero(inside)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (0, 0, x2 - x1, y2 - y1)  # ... and touches all sides
    outside = drawn.copy()
    for x1, y1, x2, y2 in boxes.astype(int):
        outside[y1:y2, x1:x2] = False
    assert outside.sum() <= 10  # nothing drawn outside the boxes but a few noisy pixels


def _outputs(boxes: list[list[float]], scores: list[float], labels: list[int]) -> list[torch.Tensor]:
    found = {
        "boxes": torch.tensor(boxes).reshape(-1, 4),
        "scores": torch.tensor(scores),
        "labels": torch.tensor(labels) + 1,
    }
    return pad_detections([found], 10)


def test_coco_metric_perfect_partial_and_empty() -> None:
    target = [{"boxes": torch.tensor([[10.0, 10, 60, 60], [100, 100, 180, 160]]), "labels": torch.tensor([0, 2])}]
    perfect = CocoDetectionMetric()
    perfect.update(_outputs([[10, 10, 60, 60], [100, 100, 180, 160]], [0.9, 0.8], [0, 2]), target)
    scores = perfect.compute()
    assert scores["map"] == pytest.approx(1.0) and scores["map50"] == pytest.approx(1.0)
    assert scores["precision"] == 1.0 and scores["recall"] == 1.0

    shifted = CocoDetectionMetric()  # one box right, one 30% off: map50 counts it, strict IoUs do not
    shifted.update(_outputs([[10, 10, 60, 60], [120, 110, 200, 170]], [0.9, 0.8], [0, 2]), target)
    partial = shifted.compute()
    assert partial["map50"] > partial["map"] > 0 and partial["map"] < 1.0

    empty = CocoDetectionMetric()
    empty.update(_outputs([], [], []), target)
    assert empty.compute() == {"map": 0.0, "map50": 0.0, "precision": 0.0, "recall": 0.0}


def test_parity_matches_detections_not_positions() -> None:
    task = DetectionTask()
    reference = _outputs([[10, 10, 60, 60], [100, 100, 180, 160]], [0.9, 0.8], [0, 2])
    reordered = _outputs([[100, 100, 180.001, 160], [10, 10, 60, 60]], [0.8, 0.9], [2, 0])
    max_diff, agreement = task.parity(reference, reordered)
    assert agreement == 1.0 and max_diff == pytest.approx(0.001, abs=1e-4)
    wrong_label = _outputs([[10, 10, 60, 60]], [0.9], [1])
    assert task.agreement(reference, wrong_label) == 0.0


@pytest.mark.parametrize("name", ["ssdlite320_mobilenet_v3_large", "fasterrcnn_mobilenet_v3_large_320_fpn"])
def test_detector_wrapper_pads_and_trains(name: str) -> None:
    model = get_entry(name).build(num_classes=len(DETECTION_CLASSES))
    model.eval()
    boxes, scores, labels = model(torch.rand(1, 3, 320, 320))
    assert boxes.shape == (1, 100, 4) and scores.shape == labels.shape == (1, 100)
    assert ((scores >= 0) | (labels == -1)).all()  # padding is marked
    model.train()
    dataset = ShapesDetectionDataset("train", 2)
    task = DetectionTask()
    inputs, targets = task.prepare_batch(task.collate([dataset[0], dataset[1]]), SPEC)
    loss = task.training_loss(model, inputs, targets)
    loss.backward()
    assert torch.isfinite(loss) and loss > 0


def test_ssdlite_exports_whole_pipeline_and_benches(tmp_path: Path) -> None:
    out = tmp_path / "ssd.onnx"
    handle, parity = commands.export("ssdlite320_mobilenet_v3_large", out, data="shapes-det", weights="random")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["boxes", "scores", "labels"]
    boxes, scores, labels = session.run(None, {"images": np.random.rand(1, 3, 320, 320).astype(np.float32)})
    assert boxes.shape == (1, 100, 4) and scores.shape == (1, 100)
    assert parity.samples == 32

    report = commands.bench(str(out), data="shapes-det", max_samples=3, batch_sizes=[1, 4])
    row = report.results[0]
    assert report.primary_metric == "map" and {"map", "map50", "precision", "recall"} <= set(row.metrics)
    assert [r.batch_size for r in report.results] == [1]  # detectors are timed one image at a time
    assert any("whole pipeline" in note for note in report.notes)
    header = to_markdown(report).splitlines()[2]  # the row's precision and the box precision metric, apart
    assert "| precision |" in header and "| precision (metric) |" in header

    # its first convolution reads the normalised, resized image, not the graph input: still the image's
    groups = candidate_groups(out, exclude=[])
    assert len(groups["input Conv"]) == 1 and groups["input Conv"][0].startswith("/detector/backbone/features.0/")

    request = Int8Request(calib_samples=4, tune_speed=False)
    report = commands.quantize(
        str(out), tmp_path / "q", "int8", data="shapes-det", int8=request, batch_sizes=[1], max_samples=3
    )
    assert {r.variant for r in report.results} == {"baseline", "int8"}
    quantized = onnx.load(str(tmp_path / "q" / "model.int8.onnx"))
    graph = quantized.graph
    producers = {output: node.op_type for node in graph.node for output in node.output}
    int8_inputs = {
        node.op_type for node in graph.node if any(producers.get(i) == "DequantizeLinear" for i in node.input)
    }
    assert {"Conv", "Mul", "Add"} <= int8_inputs  # backbone and head in int8, their activations too ...
    post_processing = {"Softmax", "Exp", "Greater", "TopK", "NonMaxSuppression"}
    assert not int8_inputs & post_processing  # ... score softmax, box decoding and NMS in float
    assert json.loads((tmp_path / "q" / "report.json").read_text())["quantization"]["post_processing_in_float"] > 100
    assert b"NonMaxSuppression" in quantized.SerializeToString()  # NMS kept (inside a subgraph), in float


def _write_coco(root: Path, boxes: list[list[float]]) -> Path:
    images, annotations = [], []
    for index in range(10):
        name = f"img{index}.png"
        Image.fromarray(np.full((60, 80, 3), index * 20, dtype=np.uint8)).save(root / name)
        images.append({"id": index, "file_name": name, "width": 80, "height": 60})
        for box in boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": index, "category_id": 7, "bbox": box})
    path = root / "instances.json"
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": [{"id": 7, "name": "widget"}]})
    )
    return path


def test_coco_json_loads_and_scales_boxes(tmp_path: Path) -> None:
    bundle = load_dataset(str(_write_coco(tmp_path, [[8, 6, 40, 30]])))
    assert bundle.task == "detection" and bundle.class_names == ["widget"]
    train, val = bundle.split("train", SPEC), bundle.split("val", SPEC)
    assert len(train) + len(val) == 10 and len(val) > 0
    image, target = train[0]
    assert image.shape == (3, 320, 320)
    assert target["boxes"].tolist() == [[32.0, 32.0, 192.0, 192.0]] and target["labels"].tolist() == [0]


@pytest.mark.parametrize(("boxes", "message"), [([[70, 10, 30, 30]], "bad box"), ([[5, 5, 0, 10]], "bad box")])
def test_coco_bad_boxes_are_named(tmp_path: Path, boxes: list[list[float]], message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_dataset(str(_write_coco(tmp_path, boxes)))


def test_coco_missing_image_is_named(tmp_path: Path) -> None:
    path = _write_coco(tmp_path, [[1, 1, 5, 5]])
    (tmp_path / "img3.png").unlink()
    with pytest.raises(DataError, match="img3.png"):
        load_dataset(str(path))
