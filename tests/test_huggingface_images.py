"""Hugging Face image classifiers from a local `save_pretrained` directory: load, bench, prune, reload.

The models are tiny ViT and ResNet classifiers built from a config, with their image processor config
saved beside them: nothing is downloaded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from compressor import api
from compressor.data import load_dataset
from compressor.errors import InputFileError, ModelMismatchError
from compressor.methods.prune_options import PruneRequest
from compressor.models.handle import IMAGENET_MEAN
from compressor.models.image_processor import processor_image_size
from compressor.models.loading import load_model

transformers = pytest.importorskip("transformers")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from tiny_hf_image import build_tiny_image_classifier  # noqa: E402

FAST = {"batch_sizes": [2], "max_samples": 32}


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_image_classifier(tmp_path_factory.mktemp("tiny-vit"), 10, family="vit")


@pytest.fixture(scope="module")
def resnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_image_classifier(tmp_path_factory.mktemp("tiny-resnet"), 10, family="resnet")


def test_loads_at_the_size_and_normalisation_its_processor_records(vit_dir: Path, resnet_dir: Path) -> None:
    shapes = load_dataset("shapes")  # 64x64 images: resized to what each model's processor says
    vit, resnet = load_model(str(vit_dir), shapes), load_model(str(resnet_dir), shapes)
    assert vit.task == resnet.task == "classification"
    assert vit.input_spec.shape == resnet.input_spec.shape == (3, 32, 32)
    assert vit.input_spec.mean == (0.5, 0.5, 0.5) and resnet.input_spec.mean == IMAGENET_MEAN


def test_wrong_data_labels_or_processor_are_refused(vit_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelMismatchError, match="image classifier but topics is a text dataset"):
        load_model(str(vit_dir), load_dataset("topics"))
    five = build_tiny_image_classifier(tmp_path / "five", 5)
    with pytest.raises(ModelMismatchError, match="predicts 5 labels but shapes has 10"):
        load_model(str(five), load_dataset("shapes"))
    (five / "preprocessor_config.json").unlink()
    with pytest.raises(InputFileError, match="without preprocessor_config.json"):
        load_model(str(five), load_dataset("shapes"))
    (five / "preprocessor_config.json").write_text(json.dumps({"size": 32, "do_rescale": False}))
    with pytest.raises(InputFileError, match="rescaled by 1.0"):
        load_model(str(five), load_dataset("shapes"))


def test_outputs_follow_the_data_classes_when_the_model_names_them_in_another_order(
    vit_dir: Path, tmp_path: Path
) -> None:
    shapes = load_dataset("shapes")
    named = build_tiny_image_classifier(tmp_path / "named", 10)
    config = json.loads((named / "config.json").read_text())
    config["id2label"] = dict(enumerate(reversed(shapes.class_names)))  # output 0 scores the data's last class
    config["label2id"] = {name: i for i, name in config["id2label"].items()}
    (named / "config.json").write_text(json.dumps(config))
    plain, reordered = load_model(str(vit_dir), shapes), load_model(str(named), shapes)
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():  # the same weights (seed 0): only the order of the outputs differs
        torch.testing.assert_close(reordered.module.eval()(images), plain.module.eval()(images).flip(1))
    report = api.bench(str(named), data="shapes", **FAST)
    accuracy = {row.backend: row.metrics["top1"] for row in report.results}
    assert set(accuracy) == {"torch", "onnxruntime"}
    assert accuracy["torch"] == accuracy["onnxruntime"]  # the ONNX export reorders them too


def test_a_centre_crop_is_what_the_model_sees() -> None:
    deit = {"do_center_crop": True, "size": {"height": 256, "width": 256}, "crop_size": {"height": 224, "width": 224}}
    assert processor_image_size(deit) == (224, 224)
    assert processor_image_size({**deit, "do_center_crop": False}) == (256, 256)
    assert processor_image_size({"size": {"shortest_edge": 384}}) == (384, 384)
    assert processor_image_size({"size": {"longest_edge": 384}}) is None


def test_vit_loses_whole_heads_and_reloads(vit_dir: Path, tmp_path: Path) -> None:
    """transformers 5's ViT attention (q_proj/k_proj/v_proj, head_dim) is pruned by whole heads; the
    pruned directory keeps the module's own weight names, so it reloads (it had the hub's: a mismatch)."""
    request = PruneRequest(sparsity=0.5, round_to=4, whole_heads=True)
    report = api.prune(str(vit_dir), tmp_path / "p", request, data="shapes", **FAST)
    heads = report.model_extra["pruning"]["attention_heads"]
    assert [change["heads"] for change in heads.values()] == [[2, 1], [2, 1]]
    pruned = load_model(str(tmp_path / "p" / "model.pruned"), load_dataset("shapes"))
    attentions = [m for m in pruned.module.modules() if type(m).__name__ == "ViTAttention"]
    assert [(a.num_attention_heads, a.head_dim, a.q_proj.out_features) for a in attentions] == [(1, 16, 16)] * 2
    images = torch.randn(2, 3, 32, 32)
    session = ort.InferenceSession(str(tmp_path / "p" / "model.pruned.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {session.get_inputs()[0].name: images.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(logits, pruned.module.eval()(images).numpy(), atol=1e-4)
