"""`import compressor as cz`: the names a library user starts from, and what each promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import compressor as cz
from compressor.core.errors import InputFileError, UnknownNameError


def test_load_model_never_trains_and_reference_model_does(
    image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("COMPRESSOR_CACHE", str(tmp_path / "cache"))  # a cache of its own: other tests see none
    data = cz.load_dataset(str(image_folder))
    assert cz.load_model("tiny_cnn", data, weights="random").weights == "random"
    with pytest.raises(InputFileError, match="no reference checkpoint for tiny_cnn"):
        cz.load_model("tiny_cnn", data)
    trained = cz.reference_model("tiny_cnn", data)
    assert "training one now" in capsys.readouterr().err
    assert cz.load_model("tiny_cnn", data).weights == trained.weights  # now cached: loaded, not trained
    with pytest.raises(UnknownNameError, match="unknown model 'tiny_cn'"):
        cz.reference_model("tiny_cn", data)


def test_the_public_names_cost_nothing_until_used() -> None:
    code = "import sys, compressor; print('torch' in sys.modules, sorted(compressor.__all__))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("False") and "reference_model" in out and "register_backend" in out
    with pytest.raises(AttributeError, match="no attribute 'compress_everything'"):
        cz.compress_everything  # noqa: B018
