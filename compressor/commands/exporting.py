"""`compress export`: an ONNX file, an OpenVINO IR, a TensorRT engine, or a Jetson bundle."""

from __future__ import annotations

from pathlib import Path

from compressor.commands.common import (
    load_torch_model,
    prepare_output_dir,
    refuse_earlier_results,
    refuse_existing_file,
)
from compressor.core.errors import OptionError
from compressor.core.handle import ModelHandle
from compressor.data import DEFAULT_DATASET, DatasetBundle, load_dataset
from compressor.exporters.configs import Jetson, Onnx, OpenVino, TensorRT
from compressor.exporters.jetson import (
    JetsonManifest,
)
from compressor.exporters.onnx import ParityResult, export_onnx, parity_batch
from compressor.exporters.openvino import export_openvino_ir
from compressor.exporters.targets import check_bundle_task, jetson_bundle, tensorrt_engine
from compressor.methods.quantize import Int8Request
from compressor.models.pixel_input import with_pixel_input
from compressor.runtime.tensorrt_engine import EngineRecord, import_tensorrt, require_cuda
from compressor.training.checkpoints import load_or_train


def _export_source(
    model: str,
    data: str,
    weights: str | None,
    image_size: tuple[int, int] | None,
    purpose: str,
    raw_pixels: bool,
    fit: str | None = None,
    onnx_as_is: bool = False,
) -> tuple[DatasetBundle, ModelHandle]:
    """The dataset and the torch model to export; with `raw_pixels`, taking pixels 0-255 (`pixel_input`).
    `onnx_as_is`: an engine or a bundle also takes an ONNX file as it is (one from elsewhere too: TensorRT
    and the board take ONNX; there is nothing to export)."""
    if onnx_as_is and model.endswith(".onnx"):
        if raw_pixels:
            raise OptionError(
                "--raw-pixels moves a torch model's normalisation into it; an .onnx file is used as it is"
            )
        bundle = load_dataset(data)
        return bundle, load_or_train(model, bundle, weights=weights, image_size=image_size, fit=fit)
    bundle, handle = load_torch_model(model, data, weights, image_size, purpose, fit)
    return bundle, with_pixel_input(handle) if raw_pixels else handle


def export(
    model: str,
    output: str | Path,
    config: Onnx | None = None,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    image_size: tuple[int, int] | None = None,
    fit: str | None = None,
    force: bool = False,
) -> tuple[ModelHandle, ParityResult]:
    """`compress export --format onnx`: a checked ONNX file with parity against torch in its metadata."""
    config = config or Onnx()
    refuse_existing_file(Path(output), force)
    bundle, handle = _export_source(model, data, weights, image_size, "export", config.raw_pixels, fit)
    extra = {"opset": config.opset} if config.opset is not None else {}
    return export_onnx(handle, output, parity_inputs=parity_batch(handle, bundle), **extra)


def export_openvino(
    model: str,
    output: str | Path,
    config: OpenVino | None = None,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    image_size: tuple[int, int] | None = None,
    fit: str | None = None,
    force: bool = False,
) -> tuple[ModelHandle, ParityResult]:
    """`compress export --format openvino`: an IR (.xml and .bin) with the model's description, and its parity
    on OpenVINO against its source (torch, or onnxruntime for an .onnx file)."""
    config = config or OpenVino()
    output = Path(output)
    refuse_existing_file(output, force)
    bundle, handle = _export_source(
        model, data, weights, image_size, "OpenVINO export", config.raw_pixels, fit, onnx_as_is=True
    )
    opset = {"opset": config.opset} if config.opset is not None else {}
    return export_openvino_ir(handle, output, parity_batch(handle, bundle), **opset)


def export_tensorrt(
    model: str,
    output: str | Path,
    config: TensorRT | None = None,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    image_size: tuple[int, int] | None = None,
    fit: str | None = None,
    force: bool = False,
) -> EngineRecord:
    """`compress export --format tensorrt`: a serialized engine for this machine's GPU, built from our ONNX
    (Q/DQ for int8), with the ONNX it came from and a JSON record beside it."""
    config = config or TensorRT()
    batch = config.batch_profile()
    output = Path(output)
    refuse_existing_file(output, force)
    import_tensorrt()  # fail before any export work: one line naming the extra
    require_cuda()
    bundle, handle = _export_source(
        model, data, weights, image_size, "TensorRT export", config.raw_pixels, fit, onnx_as_is=True
    )
    int8 = Int8Request(calibration=config.calibration, calib_samples=config.calib_samples)
    return tensorrt_engine(handle, bundle, output, config.precision, batch, config.timing_cache, int8)


def export_jetson(
    model: str,
    output_dir: str | Path,
    config: Jetson | None = None,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    image_size: tuple[int, int] | None = None,
    fit: str | None = None,
    force: bool = False,
) -> JetsonManifest:
    """`compress export --format jetson`: a bundle for the board (static-shape ONNX, Q/DQ for int8; engine
    and benchmark scripts; manifest with the accuracy model.onnx gives under onnxruntime here)."""
    config = config or Jetson()
    config.check()
    output_dir = Path(output_dir)
    refuse_earlier_results(output_dir, force, marker="manifest.json")
    bundle, handle = _export_source(
        model, data, weights, image_size, "a Jetson bundle", config.raw_pixels, fit, onnx_as_is=True
    )
    check_bundle_task(handle)
    prepare_output_dir(output_dir, force, marker="manifest.json")
    int8 = Int8Request(calibration=config.calibration, calib_samples=config.calib_samples)
    return jetson_bundle(
        handle, bundle, output_dir, config.precision, config.jetpack, config.batch_size, int8, config.max_samples
    )
