"""A TensorRT engine file as the runtime meets it: the optional import, the GPU it needs, and the record
written beside it (what it was built from and for)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from compressor.core.errors import BackendUnavailableError, InputFileError, MissingDependencyError, brief
from compressor.core.files import write_text_atomic


def import_tensorrt() -> ModuleType:
    try:
        import tensorrt
    except ImportError as error:
        raise MissingDependencyError(
            "TensorRT is not installed: pip install 'compressor[tensorrt]' on a machine with an NVIDIA GPU "
            "(or use --format jetson, which builds its engine on the device)"
        ) from error
    return tensorrt


def require_cuda() -> None:
    if not torch.cuda.is_available():
        raise BackendUnavailableError(
            "TensorRT builds and runs engines on an NVIDIA GPU and torch sees none here; build on the GPU that "
            "will run the engine (or use --format jetson, which needs no GPU)"
        )


@dataclass
class EngineRecord:
    """What the metadata file beside an engine says: enough to tell whether it fits a machine."""

    precision: str
    tensorrt_version: str
    cuda_version: str | None
    gpu: str
    inputs: dict[str, dict[str, list[int]]]  # name -> {"min", "opt", "max"} shapes
    onnx_sha256: str
    builder_optimization_level: int
    strongly_typed: bool
    timing_cache: str | None  # where the build's timings were written
    build_seconds: float
    timing_cache_reused: bool | None = None  # the timings found there were used (None: no cache file given)
    extra: dict[str, Any] = field(default_factory=dict)


def metadata_path(engine_path: Path) -> Path:
    return engine_path.with_name(f"{engine_path.name}.json")


def write_engine_record(engine_path: Path, record: EngineRecord) -> None:
    write_text_atomic(metadata_path(engine_path), json.dumps(asdict(record), indent=2))


def read_engine_record(engine_path: Path) -> EngineRecord | None:
    path = metadata_path(engine_path)
    if not path.is_file():
        return None
    try:
        return EngineRecord(**json.loads(path.read_text()))
    except (ValueError, TypeError) as error:
        raise InputFileError(f"{path}: unreadable engine record: {brief(error)}") from error
