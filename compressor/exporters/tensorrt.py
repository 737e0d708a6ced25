"""TensorRT engines built from our ONNX files with the tensorrt Python API, with a record of what they are.

An engine belongs to the GPU, TensorRT and CUDA versions that built it, so it is built where it runs,
with a JSON record of those versions, precision, input shapes and source ONNX hash beside it. int8 is
explicit Q/DQ; fp16 is a builder flag or a strongly typed fp16 network (`uses_strong_typing`). A reused
timing cache and a pinned optimisation level make a rebuild give the same engine.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import onnx
import torch

from compressor.core.errors import ExportError, brief
from compressor.core.files import atomic_path
from compressor.core.progress import warn
from compressor.models.onnx_file import METADATA_KEY
from compressor.runtime.tensorrt_engine import EngineRecord, import_tensorrt, require_cuda, write_engine_record

ENGINE_PRECISIONS = ("fp32", "fp16", "int8")
OPTIMIZATION_LEVEL = 3  # TensorRT's default, pinned so a newer default never changes our engines silently
WORKSPACE_BYTES = 2 << 30
DEFAULT_SEQUENCE_LENGTH = 128  # a token input's longest sequence where nothing records it


@dataclass
class BatchProfile:
    """The batch sizes an engine accepts (TensorRT optimisation profile): min, the one it is tuned for, max."""

    minimum: int = 1
    optimum: int = 8
    maximum: int = 32

    def check(self) -> None:
        if not 1 <= self.minimum <= self.optimum <= self.maximum:
            raise ExportError(f"batch profile must satisfy 1 <= min <= opt <= max, got {asdict(self)}")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def profile_shapes(
    onnx_path: Path, batch: BatchProfile, sample_shape: Sequence[int] | None = None
) -> dict[str, dict[str, list[int]]]:
    """Min/opt/max shapes of every graph input: a dynamic batch axis from `batch`; every fixed axis as it is
    (a detector's and a Jetson bundle's batch too: a profile that contradicts a fixed axis fails the build).
    Other dynamic axes: a token input's (integer) sequence from 1 to the length the model takes; an image's
    (float) height and width exactly the model's input size. `sample_shape` is one sample's shape (the
    model's input spec), else the one recorded in our ONNX metadata."""
    model = onnx.load(str(onnx_path), load_external_data=False)
    initializers = {tensor.name for tensor in model.graph.initializer}
    sample = list(sample_shape) if sample_shape is not None else recorded_sample_shape(model)
    shapes: dict[str, dict[str, list[int]]] = {}
    for graph_input in model.graph.input:
        if graph_input.name in initializers:
            continue
        tensor_type = graph_input.type.tensor_type
        tokens = tensor_type.elem_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32)
        axes = []
        for axis, dim in enumerate(tensor_type.shape.dim):
            if dim.HasField("dim_value"):
                axes.append((dim.dim_value,) * 3)
            elif axis == 0:
                axes.append((batch.minimum, batch.optimum, batch.maximum))
            elif tokens:
                length = int(sample[-1]) if sample else DEFAULT_SEQUENCE_LENGTH
                axes.append((1, length, length))
            elif sample is not None and len(sample) == len(tensor_type.shape.dim) - 1:
                axes.append((int(sample[axis - 1]),) * 3)
            else:
                raise ExportError(
                    f"{onnx_path}: axis {axis} of input {graph_input.name!r} is dynamic and its size is unknown; "
                    "pass --image-size (or export the ONNX with that axis fixed)"
                )
        shapes[graph_input.name] = {key: [axis[i] for axis in axes] for i, key in enumerate(("min", "opt", "max"))}
    return shapes


def _has_dynamic_axes(onnx_path: Path) -> bool:
    """Whether any fed input has an axis without a fixed size (a static network takes no profile)."""
    model = onnx.load(str(onnx_path), load_external_data=False)
    initializers = {tensor.name for tensor in model.graph.initializer}
    fed = [value for value in model.graph.input if value.name not in initializers]
    return any(not dim.HasField("dim_value") for value in fed for dim in value.type.tensor_type.shape.dim)


def recorded_sample_shape(model: onnx.ModelProto) -> list[int] | None:
    """One sample's input shape as our export recorded it in the ONNX metadata (None for other files)."""
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            shape = json.loads(prop.value).get("input_spec", {}).get("shape")
            return [int(dim) for dim in shape] if shape else None
    return None


def _network_flags(trt: ModuleType, strongly_typed: bool) -> int:
    flags = 0
    if strongly_typed:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    return flags


def uses_strong_typing(trt: ModuleType, precision: str) -> bool:
    """fp16/int8 by builder flags where they exist (up to TensorRT 10.x; int8 builds set both, so their
    unquantized layers may run in fp16). TensorRT 11 dropped the FP16 flag: its networks are strongly
    typed, the ONNX's own types decide, and an int8 engine's unquantized layers stay fp32."""
    flags = {"fp16": ("FP16",), "int8": ("FP16", "INT8")}.get(precision, ())
    return any(not hasattr(trt.BuilderFlag, flag) for flag in flags)


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    precision: str,
    batch: BatchProfile | None = None,
    timing_cache: Path | None = None,
    extra: dict[str, Any] | None = None,
    sample_shape: Sequence[int] | None = None,
) -> EngineRecord:
    """Build and write a serialized engine for `onnx_path` (Q/DQ ONNX for int8; fp16 ONNX where strongly
    typed), and the JSON record beside it. The timing cache is read if present and written back; one
    this TensorRT refuses (made on another GPU or version) is replaced by a fresh one, with a warning.
    `sample_shape`: one sample's input shape (see `profile_shapes`)."""
    if precision not in ENGINE_PRECISIONS:
        raise ExportError(f"TensorRT precision must be one of {', '.join(ENGINE_PRECISIONS)}, not {precision!r}")
    batch = batch or BatchProfile()
    batch.check()
    trt = import_tensorrt()
    require_cuda()
    started = time.perf_counter()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    strongly_typed = uses_strong_typing(trt, precision)
    network = builder.create_network(_network_flags(trt, strongly_typed))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes(), str(onnx_path)):
        problems = "; ".join(brief(str(parser.get_error(i))) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT cannot parse {onnx_path}: {problems}")
    config = builder.create_builder_config()
    config.builder_optimization_level = OPTIMIZATION_LEVEL
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if not strongly_typed and precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)  # weakly typed int8: the unquantized layers may run in fp16
        if precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
    shapes = profile_shapes(onnx_path, batch, sample_shape)
    if _has_dynamic_axes(onnx_path):  # TensorRT refuses to build one without a profile, even of one shape
        profile = builder.create_optimization_profile()
        for name, bounds in shapes.items():
            profile.set_shape(name, bounds["min"], bounds["opt"], bounds["max"])
        config.add_optimization_profile(profile)
    cache_reused = _use_timing_cache(config, timing_cache)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"TensorRT could not build an engine from {onnx_path} (its log above says why)")
    with atomic_path(engine_path) as tmp:
        tmp.write_bytes(bytes(serialized))
    if timing_cache is not None:
        with atomic_path(timing_cache) as tmp:
            tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    record = EngineRecord(
        precision=precision,
        tensorrt_version=str(trt.__version__),
        cuda_version=torch.version.cuda,
        gpu=torch.cuda.get_device_name(),
        inputs=shapes,
        onnx_sha256=sha256_of(onnx_path),
        builder_optimization_level=OPTIMIZATION_LEVEL,
        strongly_typed=strongly_typed,
        timing_cache=str(timing_cache) if timing_cache else None,
        timing_cache_reused=cache_reused,
        build_seconds=round(time.perf_counter() - started, 2),
        extra=extra or {},
    )
    write_engine_record(engine_path, record)
    return record


def _use_timing_cache(config: Any, timing_cache: Path | None) -> bool | None:
    """Start the build from the timings in `timing_cache` where TensorRT accepts them; True if it did.
    `set_timing_cache` returns false for a cache from another GPU or TensorRT version (ignore_mismatch
    off: its timings would be wrong here), and the build then starts from an empty one."""
    found = timing_cache.read_bytes() if timing_cache is not None and timing_cache.is_file() else b""
    cache = config.create_timing_cache(found)
    if cache is not None and config.set_timing_cache(cache, ignore_mismatch=False):
        return bool(found) if timing_cache is not None else None
    warn(
        f"TensorRT refused the timing cache {timing_cache} (made on another GPU or TensorRT version): "
        "this build starts a fresh one and writes it there"
    )
    if not config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False):
        raise ExportError("TensorRT refused an empty timing cache (its log above says why)")
    return False
