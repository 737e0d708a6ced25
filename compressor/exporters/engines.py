"""TensorRT artifacts for the measuring engine and `compress export --format tensorrt`.

Each precision gets its engine from the right ONNX: fp32 and flag-built fp16 from the fp32 file, fp16
on strongly typed TensorRT from an fp16 copy, int8 from the Q/DQ file quantize wrote.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import onnx
import torch
from onnx import numpy_helper

from compressor.core.errors import BackendUnavailableError, MissingDependencyError
from compressor.core.handle import ModelHandle
from compressor.core.progress import info, warn
from compressor.exporters.onnx import ParityResult
from compressor.exporters.tensorrt import BatchProfile, build_engine, uses_strong_typing
from compressor.measurement.variants import Variant
from compressor.methods.half import convert_onnx_fp16
from compressor.models.onnx_file import static_batch_size
from compressor.runtime import ENGINE_KEY, artifact_for, get_backend
from compressor.runtime.fixed_batch import FixedBatchRunner
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner
from compressor.runtime.tensorrt_engine import EngineRecord, import_tensorrt
from compressor.tasks import get_task


def engine_from_onnx(
    onnx_handle: ModelHandle,
    engine_path: Path,
    precision: str,
    batch: BatchProfile | None = None,
    timing_cache: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[ModelHandle, EngineRecord]:
    """Build the engine for `precision` from this ONNX handle; the returned handle runs it on `tensorrt`.
    `extra` goes into the engine's record (the export's preprocessing)."""
    assert onnx_handle.onnx_path is not None
    source = onnx_handle.onnx_path
    tensorrt = import_tensorrt()  # first: without it there is no engine to say "building" of
    if precision == "fp16" and uses_strong_typing(tensorrt, "fp16"):
        source = engine_path.with_name(f"{engine_path.stem}.fp16.onnx")
        convert_onnx_fp16(onnx_handle.onnx_path, source)
    info(f"building a TensorRT {precision} engine from {source.name}")
    record = build_engine(source, engine_path, precision, batch, timing_cache, extra, onnx_handle.input_spec.shape)
    info(f"built {engine_path} in {record.build_seconds:.1f} s (TensorRT {record.tensorrt_version}, {record.gpu})")
    metadata = {**onnx_handle.metadata, ENGINE_KEY: str(engine_path), "precision": precision}
    return dataclasses.replace(onnx_handle, metadata=metadata), record


def engine_artifact(
    onnx_handle: ModelHandle | None, engine_path: Path, precision: str, timing_cache: Path, batch_sizes: list[int]
) -> ModelHandle | None:
    """The tensorrt artifact of a variant for `compress bench`, or None (with a warning) where TensorRT
    cannot run here: rows for the other backends are still worth having."""
    if onnx_handle is None:
        return None
    batch = BatchProfile(minimum=1, optimum=max(batch_sizes), maximum=max(batch_sizes))
    try:
        return engine_from_onnx(onnx_handle, engine_path, precision, batch, timing_cache)[0]
    except (MissingDependencyError, BackendUnavailableError) as error:
        warn(f"no TensorRT rows: {error}")
        return None


def engine_parity(onnx_path: Path, engine_path: Path, task_name: str, inputs: list[torch.Tensor]) -> ParityResult:
    """The engine against onnxruntime running the ONNX it was built from, on the same val batch: accuracy an
    engine build loses (a layer fused or run in fp16, a Q/DQ read otherwise) shows here, on the machine that
    will run it, not in production."""
    from compressor.runtime.tensorrt_runner import TensorRTRunner

    batch = get_task(task_name).fixed_batch_size or static_batch_size(onnx_path)
    runners = [OnnxRuntimeRunner(onnx_path), TensorRTRunner(engine_path)]
    try:
        reference, candidate = (
            (FixedBatchRunner(runner, batch) if batch else runner).run(inputs) for runner in runners
        )
    finally:
        for runner in runners:
            runner.close()
    max_diff, agreement = get_task(task_name).parity(reference, candidate)
    return ParityResult(max_abs_diff=max_diff, agreement=agreement, samples=int(inputs[0].shape[0]))


# A variant's own ONNX file for engines where the one onnxruntime runs will not do (int8 for TensorRT).
ENGINE_SOURCE = "engine-source"


def asymmetric_quantization(path: Path) -> bool:
    """Whether the file's QuantizeLinear nodes use uint8 or a non-zero zero point, as onnxruntime's CPU int8
    does: TensorRT's parser takes symmetric int8 only (zero point 0), outside DLA."""
    model = onnx.load(str(path), load_external_data=False)
    stored = {tensor.name: tensor for tensor in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear" or len(node.input) < 3 or node.input[2] not in stored:
            continue
        zero_point = stored[node.input[2]]
        if zero_point.data_type == onnx.TensorProto.UINT8 or numpy_helper.to_array(zero_point).any():
            return True
    return False


def engine_artifacts(
    variants: list[Variant], backends: list[str], folder: Path, batch_sizes: list[int]
) -> list[Variant]:
    """`variants` with an engine built from each one's ONNX file for every `engine` backend asked for (one
    they lack), so quantize, prune and distill measure on TensorRT as bench does."""
    engine_backends = [name for name in backends if get_backend(name).runs == "engine"]
    for variant in variants:
        for backend in engine_backends:
            if backend in variant.artifacts:
                continue
            onnx_handle = variant.artifacts.get(ENGINE_SOURCE) or artifact_for(variant.artifacts, "onnxruntime")
            if onnx_handle is not None and onnx_handle.onnx_path and asymmetric_quantization(onnx_handle.onnx_path):
                warn(
                    f"{variant.name}: no {backend} rows, its int8 file is quantized for onnxruntime (uint8, "
                    "asymmetric) and TensorRT takes symmetric int8 only"
                )
                continue
            engine = engine_artifact(
                onnx_handle, folder / f"{variant.name}.engine", variant.precision, folder / "timing-cache", batch_sizes
            )
            if engine is not None:
                variant.artifacts[backend] = engine
    return variants
