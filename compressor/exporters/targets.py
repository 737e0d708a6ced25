"""What a loaded model is exported to for deployment: a TensorRT engine for this machine's GPU, or a
Jetson bundle built on the board; each from the model's float ONNX file."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import torch

from compressor.core.errors import OptionError
from compressor.core.handle import ModelHandle
from compressor.core.progress import info, warn
from compressor.data import DatasetBundle, calibration_split
from compressor.exporters.engine_check import write_engine_check
from compressor.exporters.engines import engine_from_onnx, engine_parity
from compressor.exporters.jetson import (
    JETSON_OPSET,
    JetsonManifest,
    bundle_source,
    calibration_record,
    make_static,
    measure_bundle_accuracy,
    write_bundle_files,
)
from compressor.exporters.onnx import export_onnx, parity_batch
from compressor.exporters.preprocessing import IMAGE_TASKS, preprocessing
from compressor.exporters.tensorrt import BatchProfile
from compressor.methods.calibration import DatasetCalibrationReader
from compressor.methods.quantize import Int8Request, quantize_onnx_int8
from compressor.models.onnx_graph import fed_input_names
from compressor.models.precision import require_full_precision
from compressor.runtime.tensorrt_engine import EngineRecord, write_engine_record
from compressor.tasks import get_task


def float_onnx(handle: ModelHandle, bundle: DatasetBundle, target: Path, **options: int) -> ModelHandle:
    """The float ONNX an engine or bundle starts from: the torch model exported (parity-checked), or the file."""
    if handle.onnx_path is not None:
        require_full_precision(handle, "an engine or bundle's int8 or fp16 build")
        return handle
    return export_onnx(handle, target, parity_inputs=parity_batch(handle, bundle), **options)[0]


def tensorrt_engine(
    handle: ModelHandle,
    bundle: DatasetBundle,
    output: str | Path,
    precision: str = "fp32",
    batch: BatchProfile | None = None,
    timing_cache: str | Path | None = None,
    int8: Int8Request | None = None,
) -> EngineRecord:
    """A serialized engine at `output` (Q/DQ for int8), the ONNX it came from beside it, and its record
    with the engine's parity against that ONNX on val samples."""
    output = Path(output)
    onnx_handle = float_onnx(handle, bundle, output.with_suffix(".onnx"))
    with tempfile.TemporaryDirectory(prefix="compressor-tensorrt-") as scratch:
        if precision == "int8":
            onnx_handle, _ = tensorrt_int8(onnx_handle, bundle, int8, output.with_suffix(".int8.onnx"), Path(scratch))
        cache = Path(timing_cache) if timing_cache else output.with_suffix(".timing-cache")
        frames = {"preprocessing": preprocessing(handle).model_dump()} if handle.task in IMAGE_TASKS else {}
        record = engine_from_onnx(onnx_handle, output, precision, batch, cache, extra=frames)[1]
    return _record_engine_parity(record, output, onnx_handle, parity_batch(handle, bundle))


def _record_engine_parity(
    record: EngineRecord, engine: Path, onnx_handle: ModelHandle, inputs: list[torch.Tensor]
) -> EngineRecord:
    """The engine against onnxruntime on its ONNX file, said aloud and kept in the engine's record."""
    assert onnx_handle.onnx_path is not None
    parity = engine_parity(onnx_handle.onnx_path, engine, onnx_handle.task, inputs)
    record.extra["parity_vs_onnx"] = dataclasses.asdict(parity)
    write_engine_record(engine, record)
    info(f"engine against onnxruntime on {onnx_handle.onnx_path.name}: {parity.summary()}")
    if parity.agreement < 1.0:
        warn(
            f"the {record.precision} engine's predictions differ from its ONNX file's on {1 - parity.agreement:.0%} "
            f"of {parity.samples} val samples: the build changed what the model computes"
        )
    return record


def tensorrt_int8(
    fp32: ModelHandle, bundle: DatasetBundle, int8: Int8Request | None, output: Path, scratch: Path
) -> tuple[ModelHandle, Int8Request]:
    """Q/DQ ONNX the way TensorRT reads it (symmetric activations, every weighted op); no tuning for this CPU."""
    request = (int8 or Int8Request()).model_copy(update={"target": "tensorrt", "tune_speed": False})
    return quantize_onnx_int8(fp32, bundle, request, output, scratch).handle, request


def check_bundle_task(handle: ModelHandle) -> None:
    """A Jetson bundle holds an image model; anything else is refused in one line."""
    if handle.task not in IMAGE_TASKS:
        raise OptionError(
            f"Jetson bundles hold image models (classifiers, detectors); {handle.name} is a {handle.task} model"
        )


def jetson_bundle(
    handle: ModelHandle,
    bundle: DatasetBundle,
    output_dir: Path,
    precision: str = "int8",
    jetpack: str = "6.2",
    batch_size: int = 1,
    int8: Int8Request | None = None,
    max_samples: int | None = None,
) -> JetsonManifest:
    """A bundle for the board in `output_dir` (static-shape ONNX, Q/DQ for int8; engine and benchmark
    scripts; manifest with the accuracy model.onnx gives under onnxruntime here)."""
    task = get_task(handle.task)
    with tempfile.TemporaryDirectory(prefix="compressor-jetson-") as scratch:
        work = Path(scratch)
        fp32 = bundle_source(float_onnx(handle, bundle, work / "fp32.onnx", opset=JETSON_OPSET), batch_size, work)
        source, calibration = fp32, None
        if precision == "int8":
            source, request = tensorrt_int8(fp32, bundle, int8, work / "int8.onnx", work)
            calibration_set = calibration_split(bundle, handle.input_spec, request.calib_samples)
            names = fed_input_names(fp32.onnx_path)  # type: ignore[arg-type]
            reader = DatasetCalibrationReader(calibration_set, task, handle.input_spec, names)
            calibration = calibration_record(bundle, reader, len(calibration_set), request.calibration)  # type: ignore[arg-type]
        assert source.onnx_path is not None
        static = make_static(source.onnx_path, output_dir / "model.onnx", batch_size, handle.input_spec.shape)
        accuracy = measure_bundle_accuracy(fp32, output_dir / "model.onnx", bundle, batch_size, max_samples)
    val = bundle.split("val", handle.input_spec)
    checked = write_engine_check(output_dir, output_dir / "model.onnx", val, task, handle.input_spec, batch_size)
    manifest = write_bundle_files(
        output_dir, handle, static, precision, jetpack, batch_size, accuracy, calibration, checked
    )
    info(
        f"bundle {task.primary_metric}: {accuracy.bundle:.4f} (fp32 {accuracy.fp32:.4f}) on {accuracy.samples} val "
        "samples, onnxruntime CPU"
    )
    return manifest
