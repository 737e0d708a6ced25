"""Reference checkpoints: trained on first use, cached, reused; `--weights random` skips them."""

import dataclasses
from pathlib import Path

import pytest

from compressor.core.errors import InputFileError
from compressor.data import load_dataset
from compressor.models.catalog import get_entry
from compressor.models.checkpoint import read_checkpoint, save_checkpoint
from compressor.models.loading import load_model
from compressor.models.reference import reference_path
from compressor.training.checkpoints import load_or_train


def test_reference_is_trained_once_then_reused(image_folder: Path, isolated_cache: Path, capsys) -> None:
    bundle = load_dataset(str(image_folder))
    with pytest.raises(InputFileError, match="no reference checkpoint for tiny_cnn .* yet"):
        load_model("tiny_cnn", bundle)  # the library's loader reads references; it never trains one
    first = load_or_train("tiny_cnn", bundle)
    cached = reference_path(get_entry("tiny_cnn"), bundle, first.input_spec)
    assert cached.is_file() and cached.is_relative_to(isolated_cache)
    assert "training one now" in capsys.readouterr().err
    second = load_model("tiny_cnn", bundle)  # cached now: read, not trained
    assert "training one now" not in capsys.readouterr().err
    assert second.weights == str(cached)
    for key, value in first.module.state_dict().items():
        assert (second.module.state_dict()[key] == value).all()


def test_random_weights_skip_training(image_folder: Path, isolated_cache: Path) -> None:
    bundle = load_dataset(str(image_folder))
    handle = load_model("mobilenet_v3_small", bundle, weights="random")
    assert handle.weights == "random"
    assert not reference_path(get_entry("mobilenet_v3_small"), bundle, handle.input_spec).exists()


def test_a_new_revision_does_not_load_references_cached_for_the_old_one(isolated_cache: Path) -> None:
    """mobilenet_v3_small's stride changed below 128 px with the same weight shapes: an older cached
    reference would load into the new network silently, so a revision gets its own cache file."""
    bundle = load_dataset("shapes")
    entry = get_entry("mobilenet_v3_small")
    spec = load_model("mobilenet_v3_small", bundle, weights="random").input_spec
    older = reference_path(dataclasses.replace(entry, revision=1), bundle, spec)
    older.parent.mkdir(parents=True, exist_ok=True)
    older.write_bytes(b"a checkpoint of the stride-2 network")
    assert entry.revision == 2 and not reference_path(entry, bundle, spec).exists()


def test_a_checkpoint_of_an_older_revision_is_warned_of(tmp_path: Path, capsys) -> None:
    """Its weights fit the new network's shapes and load; the warning says the network changed under them.
    Checkpoints now record their revision, so one written today loads without the warning."""
    bundle = load_dataset("shapes")
    handle = load_model("mobilenet_v3_small", bundle, weights="random")
    state = handle.module.state_dict()
    current = save_checkpoint(tmp_path / "current.pt", state, handle.describe())
    assert read_checkpoint(current).description["revision"] == 2
    older = {key: value for key, value in handle.describe().items() if key != "revision"}
    save_checkpoint(tmp_path / "older.pt", state, older)
    capsys.readouterr()

    load_model(str(current), bundle)
    load_model("mobilenet_v3_small", bundle, weights=str(current))
    assert "revision" not in capsys.readouterr().err
    for model, weights in ((str(tmp_path / "older.pt"), None), ("mobilenet_v3_small", str(tmp_path / "older.pt"))):
        load_model(model, bundle, weights=weights)
        warning = " ".join(capsys.readouterr().err.split())
        assert "no revision (written before 2026-12-04) of mobilenet_v3_small, which is at revision 2" in warning
        assert "its first block runs at stride 1 below 128 px" in warning
