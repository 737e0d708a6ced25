"""A Hugging Face classifier's outputs read in the data's class order (compressor.models.hf_labels)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from compressor.core.errors import ModelMismatchError
from compressor.models.hf_labels import label_order

DATA = ["anger", "fear", "joy", "love", "sadness", "surprise"]  # sorted, as the data numbers them


def _config(*labels: str) -> SimpleNamespace:
    return SimpleNamespace(id2label=dict(enumerate(labels)))


def test_named_outputs_are_reordered_to_the_data_classes() -> None:
    emotion = _config("sadness", "joy", "love", "anger", "fear", "surprise")  # a hub model's order
    order = label_order("m", emotion, DATA)
    assert order == [3, 4, 1, 2, 0, 5]
    assert [emotion.id2label[i] for i in order] == DATA
    assert label_order("m", _config("Anger", "Fear", "Joy", "Love", "Sadness", "Surprise"), DATA) is None


def test_placeholder_names_and_numbered_data_keep_index_order() -> None:
    assert label_order("m", _config(*(f"LABEL_{i}" for i in range(6))), DATA) is None
    assert label_order("m", _config("negative", "positive"), ["0", "1"]) is None


def test_unrelated_names_warn_and_keep_index_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert label_order("m", _config("tench", "goldfish"), ["n01440764", "n01443537"]) is None
    assert "none match, so output i is taken as the data's class i" in capsys.readouterr().err


def test_names_that_match_in_part_are_refused() -> None:
    with pytest.raises(ModelMismatchError, match="match only in part"):
        label_order("m", _config("sadness", "joy", "love", "anger", "fear", "disgust"), DATA)
