"""`compress quantize`: the baseline and its int8, fp16 or bf16 version measured side by side."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from compressor.commands.common import (
    baseline_artifacts,
    prepare_output_dir,
    profile_inputs,
    refuse_earlier_results,
    write_compared,
)
from compressor.core.errors import InputFileError, UnknownNameError
from compressor.core.handle import ModelHandle
from compressor.core.progress import info
from compressor.data import DEFAULT_DATASET, load_dataset
from compressor.exporters.engines import ENGINE_SOURCE, engine_artifacts
from compressor.exporters.targets import tensorrt_int8
from compressor.measurement.op_profile import OpTimes, profile_batch_size, profile_pair
from compressor.measurement.variants import DEFAULT_BACKENDS, SideBySide, Variant, side_by_side
from compressor.methods.configs import Quantize
from compressor.methods.half import torch_half_handle
from compressor.methods.openvino_int8 import openvino_int8
from compressor.methods.quantize import (
    PRECISIONS,
    Int8Request,
    fp16_onnx,
    int8_method,
    quantize_onnx_int8,
    stamp,
    tuning_target,
)
from compressor.models.catalog import is_zoo_name
from compressor.models.checkpoint import save_checkpoint
from compressor.models.precision import require_full_precision
from compressor.report.schema import Report
from compressor.report.verdict import speed_verdicts
from compressor.runtime import artifact_for, get_backend
from compressor.runtime.torch_runner import check_device
from compressor.tasks import get_task
from compressor.training.checkpoints import load_or_train


def quantize(
    model: str,
    output_dir: str | Path,
    precision: str,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    int8: Int8Request | None = None,
    device: str = "cpu",
    batch_sizes: list[int] | None = None,
    max_samples: int | None = None,
    image_size: tuple[int, int] | None = None,
    fit: str | None = None,
    force: bool = False,
    backends: list[str] | None = None,
) -> Report:
    """`compress quantize`: baseline and quantized model measured side by side in one run, written to OUTDIR.
    `backends`: where to measure; default torch and onnxruntime, those the quantized model runs on."""
    if precision not in PRECISIONS:
        raise UnknownNameError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    batch_sizes = batch_sizes or [1, 16]
    int8 = (int8 or Int8Request()).model_copy(update={"batch_sizes": tuple(batch_sizes)})
    check_device(device)
    output_dir = Path(output_dir)
    refuse_earlier_results(output_dir, force)
    bundle = load_dataset(data)
    handle = load_or_train(model, bundle, weights=weights, image_size=image_size, fit=fit)
    require_full_precision(handle, "quantization")
    if precision == "bf16" and handle.module is None:
        raise InputFileError(
            f"{model} is an ONNX model; bf16 is for torch models (onnxruntime's CPU provider has no bf16 kernels)"
        )
    if handle.openvino_ir:
        raise InputFileError(f"{model} is an OpenVINO IR; quantize the ONNX file it was written from")
    if precision == "int8":
        int8_method(int8, get_task(handle.task))  # a contradictory request fails before OUTDIR is touched
        if int8.target == "onnxruntime":  # the speed tuner times where the file will run
            int8 = int8.model_copy(update={"target": tuning_target(backends)})
    prepare_output_dir(output_dir, force)
    baseline = baseline_artifacts(handle, bundle, True, output_dir / "baseline.onnx")
    onnx_baseline = baseline["onnxruntime"]
    extra: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="compressor-quantize-") as scratch_dir:
        scratch = Path(scratch_dir)
        if onnx_baseline.onnx_path != output_dir / "baseline.onnx":  # an .onnx model given: keep a copy beside
            onnx_baseline = stamp(onnx_baseline.onnx_path, output_dir / "baseline.onnx", onnx_baseline, {})
            baseline["onnxruntime"] = onnx_baseline
        if precision == "int8":
            outcome = quantize_onnx_int8(onnx_baseline, bundle, int8, output_dir / "model.int8.onnx", scratch)
            variant = Variant("int8", "int8", {"onnxruntime": outcome.handle})
            extra["quantization"] = outcome.summary()
            if backends and "openvino" in backends:
                target = output_dir / "model.int8-openvino.xml"
                chosen = openvino_int8(onnx_baseline, bundle, outcome.handle, int8, target)
                variant.artifacts["openvino"] = chosen.handle
                extra["quantization"]["openvino"] = chosen.summary()
            if backends and any(get_backend(name).runs == "engine" for name in backends):
                info("int8 for TensorRT: symmetric Q/DQ on the weighted layers, the file its engines are built from")
                target = output_dir / "model.int8-tensorrt.onnx"
                variant.artifacts[ENGINE_SOURCE] = tensorrt_int8(onnx_baseline, bundle, int8, target, scratch)[0]
        else:
            variant = _half_variant(handle, onnx_baseline, precision, output_dir, scratch)
            onnx_half = variant.artifacts.get("onnxruntime")
            extra["quantization"] = {"kept_float32_ops": onnx_half.metadata["kept_float32_ops"]} if onnx_half else {}
        backends = backends or [name for name in DEFAULT_BACKENDS if artifact_for(variant.artifacts, name) is not None]
        variants = engine_artifacts([Variant("baseline", "fp32", baseline), variant], backends, scratch, batch_sizes)
        measured = side_by_side(variants, bundle, backends, device, batch_sizes, max_samples)
    asked = Quantize(precision=precision, **int8.model_dump(include=set(Quantize.model_fields) - {"precision"}))
    extra["settings"] = {precision: [asked.record()]}
    explanation = None
    if precision == "int8" and device == "cpu":
        op_times, slower = _int8_op_times(onnx_baseline, outcome.handle, measured, batch_sizes)
        extra["quantization"]["op_time_ms"] = op_times.to_dict("baseline", "int8")
        explanation = op_times.sentence("baseline", "int8") if slower else None
    notes = [explanation] if explanation else []
    report = write_compared(handle, bundle, measured, output_dir, extra, notes, int8.max_accuracy_drop)
    if explanation:
        info(f"int8: {explanation}")
    return report


def _int8_op_times(
    baseline: ModelHandle, int8: ModelHandle, measured: SideBySide, batch_sizes: list[int]
) -> tuple[OpTimes, bool]:
    """Both ONNX files profiled op type by op type, where int8 was not faster if it was anywhere (see
    `op_profile`); and whether it was not faster there."""
    verdicts = speed_verdicts(measured.rows, measured.reference, measured.head_to_head)
    batch_size, slower = profile_batch_size(verdicts, batch_sizes)
    assert baseline.onnx_path is not None and int8.onnx_path is not None
    return profile_pair(baseline.onnx_path, int8.onnx_path, profile_inputs(baseline, batch_size)), slower


def _half_variant(
    handle: ModelHandle, onnx_baseline: ModelHandle, precision: str, output_dir: Path, scratch: Path
) -> Variant:
    """fp16: a torch half model and an fp16 ONNX file; bf16: the torch model, and the fp32 ONNX file marked
    bf16 for the backends that compute it so (openvino; onnxruntime's CPU provider has no bf16 kernels)."""
    artifacts: dict[str, ModelHandle] = {}
    if handle.module is not None:
        artifacts["torch"] = torch_half_handle(handle, precision)
        if is_zoo_name(handle.name):
            state = artifacts["torch"].module.state_dict()  # type: ignore[union-attr]
            save_checkpoint(output_dir / f"model.{precision}.pt", state, {**handle.describe(), "precision": precision})
    if precision == "fp16":
        artifacts["onnxruntime"], kept = fp16_onnx(onnx_baseline, output_dir / "model.fp16.onnx", scratch)
        info(f"fp16 ONNX: {', '.join(kept) or 'no'} op types kept in float32; inputs and outputs stay float32")
    else:
        artifacts["onnx"] = dataclasses.replace(onnx_baseline, metadata={**onnx_baseline.metadata, "precision": "bf16"})
    return Variant(precision, precision, artifacts)
