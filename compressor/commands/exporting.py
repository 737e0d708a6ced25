"""`compress export`: an ONNX file, a TensorRT engine, or a Jetson bundle."""

from __future__ import annotations

from pathlib import Path

from compressor.commands.common import (
    load_torch_model,
    prepare_output_dir,
    refuse_earlier_results,
    refuse_existing_file,
)
from compressor.core.errors import OptionError, UnknownNameError
from compressor.core.handle import ModelHandle
from compressor.data import DEFAULT_DATASET, DatasetBundle, load_dataset
from compressor.exporters.jetson import (
    JetsonManifest,
    check_jetson_options,
)
from compressor.exporters.onnx import ParityResult, export_onnx, parity_batch
from compressor.exporters.preprocessing import IMAGE_TASKS
from compressor.exporters.targets import jetson_bundle, tensorrt_engine
from compressor.exporters.tensorrt import ENGINE_PRECISIONS, BatchProfile
from compressor.methods.quantize import Int8Request
from compressor.models.pixel_input import with_pixel_input
from compressor.runtime.tensorrt_engine import EngineRecord, import_tensorrt, require_cuda
from compressor.training.checkpoints import load_or_train


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
    return tensorrt_engine(handle, bundle, output, precision, batch, timing_cache, int8)


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
    return jetson_bundle(handle, bundle, output_dir, precision, jetpack, batch_size, int8, max_samples)
