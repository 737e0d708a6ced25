import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from compressor.core.errors import DataError, OptionError, UnknownNameError
from compressor.core.handle import InputSpec
from compressor.data import calibration_split, load_dataset
from compressor.data.imagefolder import ImageFileDataset
from compressor.data.loader import WORKERS_VARIABLE, data_loader, loader_workers
from compressor.models.catalog import get_entry
from compressor.tasks import get_task
from compressor.training.fit import TrainConfig, fit
from tests.conftest import FOLDER_CLASSES, write_image_folder


def test_train_val_layout(image_folder: Path) -> None:
    bundle = load_dataset(str(image_folder))
    assert bundle.class_names == sorted(FOLDER_CLASSES)
    val = bundle.split("val", InputSpec.image((40, 40)))
    image, label = val[0]
    assert image.shape == (3, 40, 40) and image.dtype == torch.uint8
    assert len(val) == 24 and len(bundle.split("train", InputSpec.image((40, 40)))) == 72


def test_single_tree_is_split_deterministically(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=20, seed=3)
    first = load_dataset(str(tmp_path))
    second = load_dataset(str(tmp_path))
    train_a, val_a = first.split("train", InputSpec.image((32, 32))), first.split("val", InputSpec.image((32, 32)))
    assert len(train_a) + len(val_a) == 60
    assert 0 < len(val_a) < 30
    assert [s[0] for s in val_a.samples] == [s[0] for s in second.split("val", InputSpec.image((32, 32))).samples]
    assert not {s[0] for s in val_a.samples} & {s[0] for s in train_a.samples}


def test_calibration_comes_from_train(image_folder: Path) -> None:
    bundle = load_dataset(str(image_folder))
    calibration = calibration_split(bundle, InputSpec.image((32, 32)), samples=10)
    train_paths = {path for path, _ in bundle.split("train", InputSpec.image((32, 32))).samples}
    assert len(calibration) == 10
    assert all(calibration.dataset.samples[i][0] in train_paths for i in calibration.indices)


def test_fingerprint_changes_with_the_files(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=10, seed=4)
    before = load_dataset(str(tmp_path)).fingerprint
    write_image_folder(tmp_path / "extra_unused", per_class=0, seed=4)
    (tmp_path / "circle" / "000.png").unlink()
    assert load_dataset(str(tmp_path)).fingerprint != before


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("empty", "holds no images"),
        ("one_class", "at least two class folders"),
        ("flat_files", "holds no images"),
    ],
)
def test_unusable_folders_are_refused(tmp_path: Path, layout: str, message: str) -> None:
    if layout == "empty":
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
    elif layout == "one_class":
        write_image_folder(tmp_path, per_class=10, seed=5)
        for name in ("square", "star"):
            for file in (tmp_path / name).iterdir():
                file.unlink()
            (tmp_path / name).rmdir()
    else:
        (tmp_path / "readme.txt").write_text("not images")
        (tmp_path / "sub").mkdir()
    with pytest.raises(DataError, match=message):
        load_dataset(str(tmp_path))


def test_unknown_name_suggests_the_builtin() -> None:
    with pytest.raises(UnknownNameError, match="shapes"):
        load_dataset("shape")


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dataset folder not found"):
        load_dataset(str(tmp_path / "nowhere"))


def test_a_file_is_not_a_dataset(tmp_path: Path) -> None:
    file = tmp_path / "data.csv"
    file.write_text("x")
    with pytest.raises(DataError, match="not a dataset"):
        load_dataset(str(file))


def test_image_files_are_framed_as_torchvisions_eval_transform(tmp_path: Path) -> None:
    """Resize(short side) then CenterCrop, pixel for pixel: on a 3-pixel margin torchvision's offset is 2
    (round half to even); rounded down, it was 1. transformers' processors do round down ("down")."""
    from PIL import Image
    from torchvision.transforms import v2

    columns, rows = np.meshgrid(np.arange(67), np.arange(64))
    Image.fromarray(np.stack([columns * 3, rows * 3, columns + rows], axis=-1).astype(np.uint8)).save(
        tmp_path / "a.png"
    )
    spec = InputSpec.image((64, 64))  # short side 64: the width's margin is 3
    ours = ImageFileDataset([(str(tmp_path / "a.png"), 0)], spec)[0][0]
    theirs = v2.Compose([v2.PILToTensor(), v2.Resize(64, antialias=True), v2.CenterCrop(64)])(
        Image.open(tmp_path / "a.png")
    )
    assert torch.equal(ours, theirs)
    down = ImageFileDataset([(str(tmp_path / "a.png"), 0)], dataclasses.replace(spec, crop_rounding="down"))[0][0]
    assert torch.equal(down[..., 1:], theirs[..., :-1])  # one column to the left


def test_workers_decode_files_for_a_gpu_only(image_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = InputSpec.image((32, 32))
    files, drawn = load_dataset(str(image_folder)).split("val", spec), load_dataset("shapes").split("val", spec)
    assert loader_workers(files, "cpu") == 0 and loader_workers(drawn, "cuda") == 0
    assert loader_workers(files, "cuda") >= 1
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "64")  # torchrun's processes on this machine share its cores
    assert loader_workers(files, "cuda") == 1
    monkeypatch.setenv(WORKERS_VARIABLE, "2")
    assert loader_workers(files, "cpu") == 2 and loader_workers(drawn, "cpu") == 0
    monkeypatch.setenv(WORKERS_VARIABLE, "many")
    with pytest.raises(OptionError, match="COMPRESSOR_DATA_WORKERS must be a whole number"):
        loader_workers(files, "cpu")


def test_workers_change_neither_training_nor_scores(image_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same loss and val history with and without a worker process (torch's RandomSampler made the
    last batches' augmentation depend on the worker count)."""
    bundle, spec = load_dataset(str(image_folder)), InputSpec.image((32, 32))
    histories = []
    for workers in ("0", "1"):
        monkeypatch.setenv(WORKERS_VARIABLE, workers)
        torch.manual_seed(0)
        model = get_entry("tiny_cnn").build(num_classes=len(bundle.class_names), spec=spec)
        config = TrainConfig(epochs=2, batch_size=16)
        result = fit(
            model, get_task("classification"), bundle.split("train", spec), bundle.split("val", spec), spec, config
        )
        histories.append(result.history)
    assert histories[0] == histories[1]


def test_an_unreadable_file_in_a_worker_is_one_line(
    image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes((image_folder / "val" / "circle" / "000.jpg").read_bytes()[:200])
    monkeypatch.setenv(WORKERS_VARIABLE, "1")
    dataset = ImageFileDataset([(str(broken), 0)], InputSpec.image((32, 32)))
    with pytest.raises(DataError) as raised:
        list(data_loader(dataset, 1))
    assert str(raised.value).startswith(f"cannot read image {broken}:") and "\n" not in str(raised.value)
