import numpy as np
import pytest
import torch

from compressor.core.handle import InputSpec
from compressor.data import load_dataset
from compressor.data.shapes import SHAPE_CLASSES, draw_background, render_sample, render_split, shapes_split


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


# Summed |RGB| difference from the bare background above which a pixel counts as drawn over: the
# object differs by at least MIN_CONTRAST from both gradient ends, the noise (sigma <= 10 a channel) rarely by 60.
DRAWN_OVER = 60.0


def drawn_over(image: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Pixels of `image` that differ from `background` by far more than the sensor noise."""
    return np.abs(image.astype(np.float32) - background.astype(np.float32)).sum(axis=-1) > DRAWN_OVER


@pytest.mark.parametrize("label", range(len(SHAPE_CLASSES)))
def test_every_class_draws_an_object(label: int) -> None:
    image = render_sample(np.random.default_rng(label), label, 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    # The background alone, from the same stream: it is drawn first, so the same seed redraws it. The
    # gradient alone has a std of 34-73, so the image's std says nothing about the object.
    background = np.asarray(draw_background(np.random.default_rng(label), 64).canvas)
    drawn = drawn_over(image, background)
    assert drawn.sum() >= 100  # an object of radius >= 0.18 * 64 px covers 160+ pixels
    difference = np.abs(image.astype(np.float32) - background).sum(axis=-1)
    assert difference[~drawn].mean() < 25  # elsewhere only noise: the redrawn background is the image's own


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
