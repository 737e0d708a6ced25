import numpy as np
import pytest
import torch

from compressor.data import load_dataset
from compressor.data.shapes import SHAPE_CLASSES, render_sample, render_split, shapes_split
from compressor.models.handle import InputSpec


def test_split_is_deterministic_for_a_seed() -> None:
    first_images, first_labels = render_split("val", 50, 64, 3)
    shapes_split.cache_clear()
    second_images, second_labels = render_split("val", 50, 64, 3)
    assert torch.equal(first_images, second_images)
    assert torch.equal(first_labels, second_labels)


def test_seed_and_split_change_the_images() -> None:
    base, _ = render_split("val", 20, 64, 0)
    other_seed, _ = render_split("val", 20, 64, 1)
    train, _ = render_split("train", 20, 64, 0)
    assert not torch.equal(base, other_seed)
    assert not torch.equal(base, train)


def test_classes_are_balanced_and_at_least_eight() -> None:
    assert len(SHAPE_CLASSES) >= 8
    _, labels = render_split("train", 8000, 64, 0)
    counts = torch.bincount(labels, minlength=len(SHAPE_CLASSES))
    assert int(counts.min()) == int(counts.max()) == 8000 // len(SHAPE_CLASSES)


@pytest.mark.parametrize("label", range(len(SHAPE_CLASSES)))
def test_every_class_draws_an_object(label: int) -> None:
    image = render_sample(np.random.default_rng(label), label, 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert image.std() > 10  # not a blank canvas


def test_bundle_serves_uint8_images_at_requested_size() -> None:
    bundle = load_dataset("shapes")
    assert bundle.native_size == (64, 64)
    image, label = bundle.split("val", InputSpec.image((32, 32)))[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8
    assert 0 <= label < bundle.num_classes


def test_train_and_val_do_not_share_images() -> None:
    train, _ = render_split("train", 200, 64, 0)
    val, _ = render_split("val", 200, 64, 0)
    train_rows = {bytes(image.numpy().tobytes()) for image in train}
    assert not any(bytes(image.numpy().tobytes()) in train_rows for image in val)
