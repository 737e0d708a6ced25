"""ONNX exports already made in this process, reused for the same model.

Recipes and searches export the same weights more than once, and an export is slow. The key covers
what the exported graph depends on: every submodule's class and plain attributes (widths, strides,
groups), every weight and buffer byte, the trace inputs' shapes and dtypes, the task and the opset.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from compressor.models.architecture_changes import shape_attributes

CAPACITY = 8  # files kept; the oldest is dropped first


def export_key(module: nn.Module, inputs: list[torch.Tensor], task_name: str, opset: int) -> str:
    """A digest of everything the exported graph depends on."""
    digest = hashlib.sha256()
    header = [task_name, opset, [(list(t.shape), str(t.dtype)) for t in inputs]]
    digest.update(json.dumps(header).encode())
    classes = [f"{name}:{type(sub).__module__}.{type(sub).__qualname__}" for name, sub in module.named_modules()]
    digest.update(json.dumps(classes).encode())
    digest.update(json.dumps(shape_attributes(module), sort_keys=True, default=str).encode())
    for name, tensor in module.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class ExportCache:
    """Up to CAPACITY exported files in a temporary folder that lives as long as the process."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._entries: OrderedDict[str, tuple[Path, str]] = OrderedDict()

    def restore(self, key: str, target: Path) -> str | None:
        """Copy the file cached under `key` to `target` and return its exporter's name; None if absent."""
        if key not in self._entries:
            return None
        self._entries.move_to_end(key)
        path, exporter = self._entries[key]
        shutil.copyfile(path, target)
        return exporter

    def store(self, key: str, source: Path, exporter: str) -> None:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="compressor-exports-")
        path = Path(self._folder.name) / f"{key}.onnx"
        shutil.copyfile(source, path)
        self._entries[key] = (path, exporter)
        while len(self._entries) > self.capacity:
            _, (oldest, _) = self._entries.popitem(last=False)
            oldest.unlink(missing_ok=True)
