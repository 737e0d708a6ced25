"""`compress export`: an ONNX file, a TensorRT engine, or a Jetson bundle."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import torch

from compressor.commands.common import (
    load_torch_model,
    parity_batch,
    prepare_output_dir,
    refuse_earlier_results,
    refuse_existing_file,
)
from compressor.commands.training import load_or_train
from compressor.data import DEFAULT_DATASET, DatasetBundle, calibration_split, load_dataset
from compressor.errors import OptionError, UnknownNameError
from compressor.export.engine_check import write_engine_check
from compressor.export.engines import engine_from_onnx, engine_parity
from compressor.export.jetson import (
    JETSON_OPSET,
    JetsonManifest,
    bundle_source,
    calibration_record,
    check_jetson_options,
    make_static,
    measure_bundle_accuracy,
    write_bundle_files,
)
from compressor.export.onnx import ParityResult, export_onnx
from compressor.export.onnx_graph import fed_input_names
from compressor.export.preprocessing import IMAGE_TASKS, preprocessing
from compressor.export.tensorrt import (
    ENGINE_PRECISIONS,
    BatchProfile,
    EngineRecord,
    import_tensorrt,
    require_cuda,
    write_engine_record,
)
from compressor.methods.calibration import DatasetCalibrationReader
from compressor.methods.quantize import Int8Request, quantize_onnx_int8
from compressor.models.handle import ModelHandle
from compressor.models.pixel_input import with_pixel_input
from compressor.models.precision import require_full_precision
from compressor.progress import info, warn
from compressor.tasks import get_task


def _export_source(
    model: str, data: str, weights: str | None, image_size: tuple[int, int] | None, purpose: str, raw_pixels: bool
) -> tuple[DatasetBundle, ModelHandle]:
    """The dataset and the torch model to export; with `raw_pixels`, taking pixels 0-255 (`pixel_input`)."""
    bundle, handle = load_torch_model(model, data, weights, image_size, purpose)
    return bundle, with_pixel_input(handle) if raw_pixels else handle


def _engine_source(
    model: str, data: str, weights: str | None, image_size: tuple[int, int] | None, purpose: str, raw_pixels: bool
) -> tuple[DatasetBundle, ModelHandle]:
    """The dataset and the model an engine or a bundle is built from: a torch model, or an ONNX file as it is
    (one from elsewhere too: TensorRT and the board take ONNX; there is nothing to export)."""
    if not model.endswith(".onnx"):
        return _export_source(model, data, weights, image_size, purpose, raw_pixels)
    if raw_pixels:
        raise OptionError("--raw-pixels moves a torch model's normalisation into it; an .onnx file is used as it is")
    bundle = load_dataset(data)
    return bundle, load_or_train(model, bundle, weights=weights, image_size=image_size)


def _float_onnx(handle: ModelHandle, bundle: DatasetBundle, target: Path, **options: int) -> ModelHandle:
    """The float ONNX an engine or bundle starts from: the torch model exported (parity-checked), or the file."""
    if handle.onnx_path is not None:
        require_full_precision(handle, "an engine or bundle's int8 or fp16 build")
        return handle
    return export_onnx(handle, target, parity_inputs=parity_batch(handle, bundle), **options)[0]


def export(
    model: str,
    output: str | Path,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    image_size: tuple[int, int] | None = None,
    opset: int | None = None,
    raw_pixels: bool = False,
    force: bool = False,
) -> tuple[ModelHandle, ParityResult]:
    """`compress export --format onnx`: a checked ONNX file with parity against torch in its metadata."""
    refuse_existing_file(Path(output), force)
    bundle, handle = _export_source(model, data, weights, image_size, "export", raw_pixels)
    extra = {"opset": opset} if opset is not None else {}
    return export_onnx(handle, output, parity_inputs=parity_batch(handle, bundle), **extra)


def export_tensorrt(
    model: str,
    output: str | Path,
    precision: str = "fp32",
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    image_size: tuple[int, int] | None = None,
    batch: BatchProfile | None = None,
    timing_cache: str | Path | None = None,
    int8: Int8Request | None = None,
    raw_pixels: bool = False,
    force: bool = False,
) -> EngineRecord:
    """`compress export --format tensorrt`: a serialized engine for this machine's GPU, built from our ONNX
    (Q/DQ for int8), with the ONNX it came from and a JSON record beside it."""
    if precision not in ENGINE_PRECISIONS:
        raise UnknownNameError(
            f"unknown precision {precision!r} for TensorRT; choose from {', '.join(ENGINE_PRECISIONS)}"
        )
    output = Path(output)
    refuse_existing_file(output, force)
    import_tensorrt()  # fail before any export work: one line naming the extra
    require_cuda()
    bundle, handle = _engine_source(model, data, weights, image_size, "TensorRT export", raw_pixels)
    onnx_handle = _float_onnx(handle, bundle, output.with_suffix(".onnx"))
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
    request = dataclasses.replace(int8 or Int8Request(), target="tensorrt", tune_speed=False)
    return quantize_onnx_int8(fp32, bundle, request, output, scratch).handle, request


def export_jetson(
    model: str,
    output_dir: str | Path,
    precision: str = "int8",
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    image_size: tuple[int, int] | None = None,
    jetpack: str = "6.2",
    batch_size: int = 1,
    int8: Int8Request | None = None,
    max_samples: int | None = None,
    raw_pixels: bool = False,
    force: bool = False,
) -> JetsonManifest:
    """`compress export --format jetson`: a bundle for the board (static-shape ONNX, Q/DQ for int8; engine
    and benchmark scripts; manifest with the accuracy model.onnx gives under onnxruntime here)."""
    check_jetson_options(precision, jetpack, batch_size)
    output_dir = Path(output_dir)
    refuse_earlier_results(output_dir, force, marker="manifest.json")
    bundle, handle = _engine_source(model, data, weights, image_size, "a Jetson bundle", raw_pixels)
    if handle.task not in IMAGE_TASKS:
        raise OptionError(
            f"Jetson bundles hold image models (classifiers, detectors); {handle.name} is a {handle.task} model"
        )
    prepare_output_dir(output_dir, force, marker="manifest.json")
    task = get_task(handle.task)
    with tempfile.TemporaryDirectory(prefix="compressor-jetson-") as scratch:
        work = Path(scratch)
        fp32 = bundle_source(_float_onnx(handle, bundle, work / "fp32.onnx", opset=JETSON_OPSET), batch_size, work)
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
