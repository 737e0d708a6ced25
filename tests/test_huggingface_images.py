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

from compressor import commands
from compressor.core.errors import InputFileError, ModelMismatchError
from compressor.core.handle import IMAGENET_MEAN
from compressor.data import load_dataset
from compressor.data.base import deterministic_subset
from compressor.data.imagefolder import ImageFileDataset
from compressor.methods.configs import Prune
from compressor.models.image_processor import image_processor_input
from compressor.models.loading import load_model
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner
from compressor.runtime.torch_runner import TorchRunner
from compressor.tasks import get_task
from compressor.tasks.classification import normalize_images

transformers = pytest.importorskip("transformers")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from tiny_hf_image import build_tiny_image_classifier, save_classifier  # noqa: E402

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
    report = commands.bench(str(named), data="shapes", **FAST)
    accuracy = {row.backend: row.metrics["top1"] for row in report.results}
    assert set(accuracy) == {"torch", "onnxruntime"}
    assert accuracy["torch"] == accuracy["onnxruntime"]  # the ONNX export reorders them too


# Processors of the families on the hub, at small sizes: each frames an image its own way (ConvNeXt's
# crop_pct resize, DeiT's crop of a square squash, ViT's squash, LeViT's 256/224 resize, EfficientNet's
# second division by the std, MobileViT's BGR and a crop larger than the resize, several filters).
PROCESSORS = {
    "ConvNextImageProcessor": {"size": {"shortest_edge": 40}},  # also ResNet's and RegNet's
    "DeiTImageProcessor": {"size": {"height": 48, "width": 48}, "crop_size": {"height": 40, "width": 40}},
    "ViTImageProcessor": {"size": {"height": 40, "width": 40}},
    "BitImageProcessor": {"size": {"shortest_edge": 40}, "crop_size": {"height": 40, "width": 40}},
    "LevitImageProcessor": {"size": {"shortest_edge": 40}, "crop_size": {"height": 40, "width": 40}},
    "PoolFormerImageProcessor": {"size": {"shortest_edge": 40}, "crop_size": {"height": 40, "width": 40}},
    "EfficientNetImageProcessor": {"size": {"height": 44, "width": 44}},
    "MobileViTImageProcessor": {"size": {"shortest_edge": 36}, "crop_size": {"height": 40, "width": 40}},
}


# Configs as older hub checkpoints ship them (feature extractors, plain-int sizes): an int is a shortest
# edge for some processor classes and a square for others.
LEGACY_SIZES = {
    "ConvNextImageProcessor": {"size": 40},
    "ViTImageProcessor": {"size": 40},
    "DeiTImageProcessor": {"size": 48, "crop_size": 40},
    "MobileViTImageProcessor": {"size": 36, "crop_size": 40},
}


def _landscape_image(folder: Path) -> Path:
    from PIL import Image

    columns, rows = np.meshgrid(np.arange(90), np.arange(60))  # landscape: the framing shows
    pixels = np.stack([columns * 2.8, rows * 4.2, (np.sin(columns / 5) * np.cos(rows / 4) + 1) * 127], axis=-1)
    Image.fromarray(pixels.astype(np.uint8)).save(folder / "image.png")
    return folder / "image.png"


def _assert_framed_as_the_processor(processor: object, directory: Path, image: Path, channels: int = 3) -> None:
    """Our ImageFolder pixels for the config in `directory`, normalised, equal the processor's pixel_values."""
    from PIL import Image

    spec, bgr = image_processor_input(directory, channels)
    ours = normalize_images(ImageFileDataset([(str(image), 0)], spec)[0][0][None], spec)[0]
    ours = ours.flip(0) if bgr else ours  # done inside the model: see the MobileViT test
    theirs = processor(images=Image.open(image), return_tensors="pt")["pixel_values"][0]  # type: ignore[operator]
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


@pytest.mark.parametrize("processor_class", sorted(PROCESSORS))
def test_images_are_framed_and_normalised_exactly_as_the_processor_does(processor_class: str, tmp_path: Path) -> None:
    """An ImageFolder image fed to a Hugging Face classifier equals the processor's own pixel_values."""
    processor = getattr(transformers, processor_class)(**PROCESSORS[processor_class])
    processor.save_pretrained(tmp_path)
    _assert_framed_as_the_processor(processor, tmp_path, _landscape_image(tmp_path))


@pytest.mark.parametrize("processor_class", sorted(LEGACY_SIZES))
def test_older_configs_with_plain_int_sizes_are_framed_as_transformers_reads_them(
    processor_class: str, tmp_path: Path
) -> None:
    sizes = LEGACY_SIZES[processor_class]
    processor = getattr(transformers, processor_class)(**sizes, do_center_crop="crop_size" in sizes)
    legacy = {key: value for key, value in processor.to_dict().items() if key != "image_processor_type"}
    legacy |= {**sizes, "feature_extractor_type": processor_class.replace("ImageProcessor", "FeatureExtractor")}
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(legacy))
    _assert_framed_as_the_processor(processor, tmp_path, _landscape_image(tmp_path))


@pytest.mark.parametrize("processor_class", sorted(PROCESSORS))
def test_a_config_without_resample_gets_its_class_default_filter(processor_class: str, tmp_path: Path) -> None:
    """transformers falls back to the class default (bicubic for ConvNeXt, DeiT, ...); it was read as bilinear."""
    processor = getattr(transformers, processor_class)(**PROCESSORS[processor_class])
    config = {key: value for key, value in processor.to_dict().items() if key != "resample"}
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(config))
    _assert_framed_as_the_processor(processor, tmp_path, _landscape_image(tmp_path))


def test_a_grayscale_classifier_reads_one_channel_as_its_processor_feeds_it(tmp_path: Path) -> None:
    """A model with num_channels 1 and a one-value mean and std (they were refused: "must be 3 numbers")."""
    from PIL import Image

    processor = transformers.ViTImageProcessor(size={"height": 40, "width": 40}, image_mean=[0.5], image_std=[0.25])
    processor.save_pretrained(tmp_path)
    columns, rows = np.meshgrid(np.arange(90), np.arange(60))
    Image.fromarray((columns * 2.8 + rows).astype(np.uint8)).save(tmp_path / "grey.png")  # mode L
    _assert_framed_as_the_processor(processor, tmp_path, tmp_path / "grey.png", channels=1)
    with pytest.raises(InputFileError, match="must be 3 numbers each .the model reads 3-channel images"):
        image_processor_input(tmp_path)

    config = transformers.ViTConfig(
        image_size=32, patch_size=8, num_channels=1, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, num_labels=10,
    )  # fmt: skip
    model_dir = tmp_path / "grey-vit"
    transformers.ViTForImageClassification(config).save_pretrained(model_dir)
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5], image_std=[0.5]).save_pretrained(
        model_dir
    )
    assert load_model(str(model_dir), load_dataset("shapes")).input_spec.shape == (1, 32, 32)
    report = commands.bench(str(model_dir), data="shapes", backends=["torch", "onnxruntime"], **FAST)
    torch_row, onnx_row = report.results
    assert abs(torch_row.metrics["top1"] - onnx_row.metrics["top1"]) <= 2 / 32  # random weights: near ties
    # Random weights answer one or two classes, so top-1 rows agree whatever the ONNX file computes:
    # the logits themselves must match, measured against how much they vary from image to image.
    handle = load_model(str(model_dir), load_dataset("shapes"))
    task = get_task(handle.task)
    val = deterministic_subset(load_dataset("shapes").split("val", handle.input_spec), 64)
    inputs, _ = task.prepare_batch(task.collate([val[i] for i in range(len(val))]), handle.input_spec)
    commands.export(str(model_dir), tmp_path / "grey.onnx")
    torch_logits = TorchRunner(handle.module).run(inputs)[0]
    onnx_logits = OnnxRuntimeRunner(tmp_path / "grey.onnx").run(inputs)[0]
    spread = (torch_logits - torch_logits.mean(dim=0)).norm().item()
    assert spread > 0.01  # the logits depend on the image (measured: 0.23)
    assert (onnx_logits - torch_logits).norm().item() <= 1e-3 * spread  # measured: 1e-6


def test_processors_that_frame_otherwise_are_refused(tmp_path: Path) -> None:
    transformers.DonutImageProcessor().save_pretrained(tmp_path)  # thumbnails and pads
    with pytest.raises(InputFileError, match=r"does not reproduce \(do_thumbnail, do_pad\)"):
        image_processor_input(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"size": {"longest_edge": 384}}))
    with pytest.raises(InputFileError, match="no fixed input size"):
        image_processor_input(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"size": 32, "resample": 7}))
    with pytest.raises(InputFileError, match="unknown resample filter 7 .PIL's codes: 0 nearest-exact"):
        image_processor_input(tmp_path)


def test_a_bgr_model_takes_rgb_and_flips_it_inside(tmp_path: Path) -> None:
    """MobileViT was trained on BGR: its handle takes RGB like every other image model (so its exports do)."""
    config = transformers.MobileViTConfig(
        image_size=32, num_labels=10, hidden_sizes=[16, 24, 32], neck_hidden_sizes=[8, 8, 16, 16, 24, 32, 48],
        num_attention_heads=2,
    )  # fmt: skip
    processor = transformers.MobileViTImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    directory = save_classifier(tmp_path / "mobilevit", config, processor)
    handle = load_model(str(directory), load_dataset("shapes"))
    rgb = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        expected = transformers.MobileViTForImageClassification.from_pretrained(directory).eval()(rgb.flip(1)).logits
        torch.testing.assert_close(handle.module(rgb), expected)


def test_vit_loses_whole_heads_and_reloads(vit_dir: Path, tmp_path: Path) -> None:
    """transformers 5's ViT attention (q_proj/k_proj/v_proj, head_dim) is pruned by whole heads; the
    pruned directory keeps the module's own weight names, so it reloads (it had the hub's: a mismatch)."""
    request = Prune(sparsity=0.5, round_to=4, whole_heads=True)
    report = commands.prune(str(vit_dir), tmp_path / "p", request, data="shapes", **FAST)
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


def test_a_fresh_student_learns_the_teachers_framing(image_folder: Path, tmp_path: Path, cli) -> None:  # noqa: ANN001
    """One batch feeds teacher and student: a ConvNeXt-processor teacher (shortest edge 32 / crop_pct to
    36, then a 32 crop) must see its own framing, and the student keeps it in its checkpoint (before, the
    teacher saw the student's: short side to 32)."""
    from compressor.cli import app

    teacher = build_tiny_image_classifier(tmp_path / "teacher", 3, family="resnet")
    out = tmp_path / "out"
    args = ["distill", "--teacher", str(teacher), "--student", "tiny_cnn", "--data", str(image_folder)]
    result = cli.invoke(
        app, [*args, "--image-size", "32", "--epochs", "1", "--batch-sizes", "1", "--max-samples", "8", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "the student is framed as the teacher: resize [36] before the crop" in result.output
    spec = load_model(str(out / "distilled.pt"), load_dataset(str(image_folder))).input_spec
    teacher_spec = load_model(str(teacher), load_dataset(str(image_folder))).input_spec
    assert (spec.resize, spec.interpolation) == (teacher_spec.resize, teacher_spec.interpolation) == ((36,), "bicubic")
