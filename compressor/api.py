"""The library behind every CLI command: one public function per command, with the same options.

Each lives in its module under `compressor.commands`; this module gathers them for callers (the CLI,
the pipeline stages, benchmarks and users' scripts)."""

from __future__ import annotations

from compressor.commands.benching import bench
from compressor.commands.distilling import distill
from compressor.commands.exporting import export, export_jetson, export_tensorrt
from compressor.commands.pruning import prune
from compressor.commands.quantizing import quantize
from compressor.commands.training import train, train_config, train_handle
from compressor.models.catalog import get_entry, list_entries
from compressor.models.registry import ZooEntry


def list_models() -> list[ZooEntry]:
    return list_entries()


__all__ = [
    "bench",
    "distill",
    "export",
    "export_jetson",
    "export_tensorrt",
    "get_entry",
    "list_models",
    "prune",
    "quantize",
    "train",
    "train_config",
    "train_handle",
]
