"""The verbs behind the CLI: each loads a model, compresses or exports it, measures and writes OUTDIR.

One module per verb (`training`, `exporting`, `benching`, `quantizing`, `pruning`, `distilling`) and
what they share (`common`). Recipe stages run them; `compressor.api` is the library API below them.
"""

from __future__ import annotations

from compressor.commands.benching import bench
from compressor.commands.distilling import distill
from compressor.commands.exporting import export, export_jetson, export_openvino, export_tensorrt
from compressor.commands.pruning import prune
from compressor.commands.quantizing import quantize
from compressor.commands.training import train
from compressor.models.catalog import get_entry, list_entries
from compressor.models.registry import ZooEntry
from compressor.training.checkpoints import train_config, train_handle


def list_models() -> list[ZooEntry]:
    return list_entries()


__all__ = [
    "bench",
    "distill",
    "export",
    "export_jetson",
    "export_openvino",
    "export_tensorrt",
    "get_entry",
    "list_models",
    "prune",
    "quantize",
    "train",
    "train_config",
    "train_handle",
]
