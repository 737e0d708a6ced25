"""Real text data: a .jsonl or .csv file of `text` and `label` fields, or a directory with train/val files.

One file is split deterministically (20% val, by a hash of each text: identical texts never straddle
the splits); a directory holds `train.jsonl` and `val.jsonl` (or `.csv`). Labels may be strings or
integers; class names are the distinct labels, numerically ordered when they are all integers.
`label` may be left out of every row: such a set serves embedding models, which are scored against
the baseline's embeddings rather than labels.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from compressor.core.errors import DataError, brief
from compressor.data.text import TextBundle, TextSplits, make_text_bundle

TEXT_SUFFIXES = (".jsonl", ".csv")
VAL_FRACTION_PERCENT = 20
UNLABELLED = -1  # the label of every text in a set without labels
Row = tuple[str, str | None]  # (text, label as a string, or None in a set without labels)


def _check_row(record: object, where: str) -> Row:
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected an object with 'text' and 'label' fields")
    if record.get("text") in (None, ""):
        raise DataError(f"{where}: missing field 'text' (need 'text', and 'label' for classifiers)")
    label = record.get("label")
    return str(record["text"]), None if label in (None, "") else str(label)


def _check_labelling(rows: list[Row], path: Path) -> None:
    """Either every row has a label or none has: a half-labelled file is a mistake, not an embedding set."""
    unlabelled = [number for number, (_, label) in enumerate(rows, start=1) if label is None]
    if unlabelled and len(unlabelled) < len(rows):
        raise DataError(f"{path}: row {unlabelled[0]} has no 'label' but others do; label every row or none")


def _read_jsonl(path: Path) -> list[Row]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: not valid JSON ({brief(error)})") from error
        rows.append(_check_row(record, f"{path}:{number}"))
    return rows


def _read_csv(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "text" not in reader.fieldnames:
            header = reader.fieldnames
            raise DataError(f"{path} is not a dataset: a .csv needs a 'text' column (and 'label'), got {header}")
        return [_check_row(record, f"{path}:{number}") for number, record in enumerate(reader, start=2)]


def read_rows(path: Path) -> list[Row]:
    """Every (text, label) row of a .jsonl or .csv file; an unreadable or empty file is a DataError."""
    if not path.is_file():
        raise DataError(f"text data file not found: {path}")
    try:
        rows = _read_jsonl(path) if path.suffix == ".jsonl" else _read_csv(path)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"cannot read {path}: {brief(error)}") from error
    if not rows:
        raise DataError(f"{path} holds no rows (expected 'text' and 'label' fields)")
    _check_labelling(rows, path)
    return rows


def _class_names(labels: list[str | None]) -> list[str]:
    distinct = {label for label in labels if label is not None}
    if all(label.lstrip("-").isdigit() for label in distinct):
        return sorted(distinct, key=int)
    return sorted(distinct)


def _is_val(text: str) -> bool:
    return hashlib.sha1(text.encode()).digest()[0] * 100 // 256 < VAL_FRACTION_PERCENT


def _split_file(path: Path) -> tuple[list[Row], list[Row]]:
    rows = read_rows(path)
    train = [row for row in rows if not _is_val(row[0])]
    val = [row for row in rows if _is_val(row[0])]
    if not train or not val:
        raise DataError(f"{path}: too few distinct texts to split into train and val ({len(rows)} rows)")
    return train, val


def _split_dir(root: Path) -> tuple[list[Row], list[Row]]:
    def find(split: str) -> Path:
        for suffix in TEXT_SUFFIXES:
            if (root / f"{split}{suffix}").is_file():
                return root / f"{split}{suffix}"
        raise DataError(f"{root}: no {split}.jsonl or {split}.csv")

    return read_rows(find("train")), read_rows(find("val"))


def is_text_dir(path: Path) -> bool:
    return any((path / f"train{suffix}").is_file() for suffix in TEXT_SUFFIXES)


def load_text_data(path: Path) -> TextBundle:
    """A text-classification bundle from one .jsonl/.csv file or a directory of train/val files."""
    path = path.resolve()
    train, val = _split_dir(path) if path.is_dir() else _split_file(path)
    if (train[0][1] is None) != (val[0][1] is None):
        raise DataError(f"{path}: one of train and val has labels and the other not; label both or neither")
    classes = _class_names([label for _, label in train])
    unknown = sorted({label for _, label in val if label is not None} - set(classes))
    if unknown:
        raise DataError(f"{path}: val labels {unknown[:3]} never occur in train")
    if len(classes) == 1:
        raise DataError(f"{path}: classification needs at least two labels, found {classes}")
    index: dict[str | None, int] = {name: i for i, name in enumerate(classes)}
    index[None] = UNLABELLED
    digest = hashlib.sha1(json.dumps([train, val]).encode()).hexdigest()[:12]
    splits = TextSplits(
        train=([text for text, _ in train], [index[label] for _, label in train]),
        val=([text for text, _ in val], [index[label] for _, label in val]),
    )
    return make_text_bundle(str(path), classes, f"text-{digest}", splits)
