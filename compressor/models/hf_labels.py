"""Which output of a Hugging Face classifier is which of the data's classes.

The config names its outputs (`id2label`), rarely in the data's sorted class order. Where the names
match, the outputs are reordered to the data's; placeholder names (LABEL_0, ...) or numbered data
classes keep index i as class i; names that overlap only in part are refused.
"""

from __future__ import annotations

import re
from typing import Any

from compressor.core.errors import ModelMismatchError
from compressor.core.progress import warn

_PLACEHOLDER = re.compile(r"LABEL_\d+")


def _normalised(name: str) -> str:
    return " ".join(str(name).lower().replace("_", " ").split())


def label_order(model: str, config: Any, class_names: list[str]) -> list[int] | None:
    """For each of the data's classes, the model output that scores it; None where output i is class i."""
    id2label = getattr(config, "id2label", None) or {}
    labels = [str(id2label.get(i, f"LABEL_{i}")) for i in range(len(class_names))]
    data = [_normalised(name) for name in class_names]
    ours = [_normalised(label) for label in labels]
    if ours == data or all(_PLACEHOLDER.fullmatch(label) for label in labels):
        return None
    if class_names == [str(i) for i in range(len(class_names))]:
        return None  # the data's labels are output indices
    if sorted(ours) == sorted(data) and len(set(ours)) == len(ours):
        return [ours.index(name) for name in data]
    if set(ours).isdisjoint(data):
        warn(
            f"{model} names its outputs {', '.join(labels[:4])}... and the data its classes "
            f"{', '.join(class_names[:4])}...: none match, so output i is taken as the data's class i (sorted names)"
        )
        return None
    raise ModelMismatchError(
        f"{model} predicts labels {', '.join(labels)} but the data's classes are {', '.join(class_names)}: "
        "they match only in part; pass the dataset it was fine-tuned on"
    )
