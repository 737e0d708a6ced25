"""`--weights imagenet`: torchvision's published weights for the zoo's classifiers, rows picked for the data.

Nothing is downloaded here: a stand-in weights file (resnet18's architecture, seeded random values) is
put where torchvision's download would leave it, in a temporary $TORCH_HOME.
"""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from compressor.cli import app
from compressor.core.errors import ModelMismatchError
from compressor.core.handle import IMAGENET_MEAN
from compressor.data import load_dataset
from compressor.models.loading import load_model
from compressor.models.pretrained import output_rows, select_rows

IMAGENET_NAMED = ("tench", "goldfish", "great_white_shark")  # ImageNet classes 0, 1, 2, as folder names


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture
def stand_in_weights(torch_home: Path) -> torchvision.models.ResNet:
    """resnet18 as torchvision's download of its IMAGENET1K_V1 weights would leave it (values: seed 0)."""
    torch.manual_seed(0)
    network = torchvision.models.resnet18(weights=None).eval()
    url = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url
    (torch_home / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(network.state_dict(), torch_home / "hub" / "checkpoints" / url.rsplit("/", 1)[-1])
    return network


@pytest.fixture
def imagenet_named_folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for name in IMAGENET_NAMED:
        (tmp_path / "photos" / name).mkdir(parents=True)
        for index in range(5):
            pixels = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "photos" / name / f"{index}.jpg")
    return tmp_path / "photos"


def test_the_datas_classes_take_their_rows_of_the_imagenet_layer(
    stand_in_weights: torchvision.models.ResNet, imagenet_named_folder: Path
) -> None:
    bundle = load_dataset(str(imagenet_named_folder))  # sorted: goldfish, great_white_shark, tench
    handle = load_model("resnet18", bundle, weights="imagenet")
    spec = handle.input_spec  # as torchvision evaluated the weights: 256 short side, 224 crop
    assert (spec.shape, spec.resize, spec.interpolation) == ((3, 224, 224), (256,), "bilinear")
    assert spec.mean == IMAGENET_MEAN
    assert handle.weights == "torchvision ResNet18_Weights.IMAGENET1K_V1"
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = stand_in_weights(images)[:, [1, 2, 0]]
        torch.testing.assert_close(handle.module.eval()(images), expected)
    smaller = load_model("resnet18", bundle, weights="IMAGENET1K_V1", image_size=(112, 112)).input_spec
    assert (smaller.shape, smaller.resize) == ((3, 112, 112), (128,))  # the same share of each image


def test_synset_folders_keep_torchvision_order_and_other_names_are_refused() -> None:
    categories = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    synsets = [f"n{index:08d}" for index in range(1000)]
    assert output_rows(categories, synsets, "resnet18") == list(range(1000))
    assert output_rows(categories, ["Great White Shark", "tench"], "resnet18") == [2, 0]
    with pytest.raises(ModelMismatchError, match="circle, square are not"):
        output_rows(categories, ["circle", "square", "tench"], "resnet18")
    with pytest.raises(ModelMismatchError, match="several named 'cardigan'"):
        output_rows(categories, ["cardigan", "tench"], "resnet18")


def test_what_cannot_load_is_one_line(
    cli, torch_home: Path, imagenet_named_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    def offline(url: str, *args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    data = ["--data", str(imagenet_named_folder), "--backend", "torch"]
    cases = {
        "resnet18": "put resnet18-f37072fd.pth in",  # nothing in the cache, no internet
        "tiny_cnn": "fasterrcnn_mobilenet_v3_large_320_fpn (coco), not tiny_cnn",
    }
    for model, message in cases.items():
        result = cli.invoke(app, ["bench", model, "--weights", "imagenet", *data], terminal_width=400)
        assert result.exit_code == 2 and message in result.output, result.output
        assert "Traceback" not in result.output
    result = cli.invoke(app, ["bench", "resnet18", "--weights", "IMAGENET1K_V9", *data], terminal_width=400)
    assert result.exit_code == 2 and "resnet18 has IMAGENET1K_V1 (or `imagenet`" in result.output


def test_train_fine_tunes_imagenet_weights_with_a_new_head_for_other_classes(
    stand_in_weights: torchvision.models.ResNet, image_folder: Path, tmp_path: Path, cli
) -> None:  # noqa: ANN001
    """circle, square, star are not ImageNet classes: `compress train --weights imagenet` starts from the
    backbone's weights and a fresh final layer; other commands refuse such data for these weights."""
    bundle = load_dataset(str(image_folder))
    start = load_model("resnet18", bundle, weights="imagenet", image_size=(32, 32), new_head=True).module
    torch.testing.assert_close(start.conv1.weight, stand_in_weights.conv1.weight)
    assert start.fc.out_features == 3
    with pytest.raises(ModelMismatchError, match="circle, square, star are not"):
        load_model("resnet18", bundle, weights="imagenet")
    out = tmp_path / "tuned.pt"
    args = ["train", "resnet18", "--weights", "imagenet", "--data", str(image_folder), "--image-size", "32"]
    result = cli.invoke(app, [*args, "--epochs", "1", "-o", str(out)], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert "gets new final layers for them" in result.output
    tuned = load_model(str(out), bundle)
    assert tuned.input_spec.resize == (37,) and tuned.input_spec.mean == IMAGENET_MEAN  # 256/224 of 32
    refused = cli.invoke(app, [*args, "--weights", "ck.pt", "-o", str(tmp_path / "x.pt")], terminal_width=400)
    assert refused.exit_code == 2 and "random weights or torchvision's (--weights imagenet or coco)" in refused.output


def test_rows_are_picked_per_anchor_or_per_class_as_the_layer_lays_them_out() -> None:
    scores = torch.arange(2 * 5).float().reshape(10, 1)  # SSD: 2 anchors x 5 classes
    assert select_rows("head.cls.weight", scores, torch.tensor([0, 3]), 5).flatten().tolist() == [0, 3, 5, 8]
    boxes = torch.arange(5 * 4).float()  # Faster R-CNN's box regression: 5 classes x 4 coordinates
    picked = select_rows("roi_heads.box_predictor.bbox_pred.bias", boxes, torch.tensor([0, 3]), 5)
    assert picked.tolist() == [0, 1, 2, 3, 12, 13, 14, 15]


def test_a_detector_takes_coco_weights_for_the_datas_categories(torch_home: Path, tmp_path: Path) -> None:
    """COCO-format data of persons and dogs: background, person and dog rows of each scoring layer."""
    torch.manual_seed(0)
    builder = torchvision.models.detection.ssdlite320_mobilenet_v3_large
    stand_in = builder(weights=None, weights_backbone=None, num_classes=91).state_dict()
    url = torchvision.models.detection.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.url
    (torch_home / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(stand_in, torch_home / "hub" / "checkpoints" / url.rsplit("/", 1)[-1])
    images = [{"id": i, "file_name": f"{i}.png", "width": 64, "height": 48} for i in range(4)]
    for image in images:
        Image.fromarray(np.zeros((48, 64, 3), dtype=np.uint8)).save(tmp_path / image["file_name"])
    boxes = [{"id": i + 1, "image_id": i, "category_id": 18, "bbox": [4, 4, 20, 20]} for i in range(4)]
    categories = [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}]  # COCO's own ids and names
    coco = {"images": images, "annotations": boxes, "categories": categories}
    (tmp_path / "instances.json").write_text(json.dumps(coco))
    bundle = load_dataset(str(tmp_path / "instances.json"))
    network = load_model("ssdlite320_mobilenet_v3_large", bundle, weights="coco").module.detector
    ours = network.state_dict()
    rows = torch.tensor([0, 1, 18])  # background, person, dog: the data's order (by category id)
    scoring = [
        key for key in ours if key.startswith("head.classification_head") and ours[key].shape != stand_in[key].shape
    ]
    assert scoring  # every feature map's last scoring conv: 6 anchors x (2 classes + background)
    for key in scoring:
        torch.testing.assert_close(
            ours[key], stand_in[key].reshape(6, 91, *stand_in[key].shape[1:])[:, rows].flatten(0, 1)
        )
    for key in ours:
        if key not in scoring:
            torch.testing.assert_close(ours[key], stand_in[key])
