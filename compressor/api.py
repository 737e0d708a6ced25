"""The library API: compress a model you hold, export it, and measure models side by side.

Every function takes and returns models in memory (`ModelHandle`); files are written only where a
path is given. The CLI's verbs are these calls plus loading, OUTDIR and the printed report.
"""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from compressor.core.errors import InputFileError, OptionError
from compressor.core.files import make_folder
from compressor.core.handle import ModelHandle
from compressor.core.progress import info, warn
from compressor.data import DatasetBundle, load_dataset
from compressor.exporters.configs import ExportConfig, Jetson, Onnx, OpenVino, TensorRT
from compressor.exporters.engines import engine_artifacts
from compressor.exporters.jetson import JetsonManifest
from compressor.exporters.onnx import DEFAULT_OPSET, export_onnx, parity_batch
from compressor.exporters.openvino import export_openvino_ir
from compressor.exporters.targets import check_bundle_task, jetson_bundle, tensorrt_engine
from compressor.measurement.variants import (
    DEFAULT_BACKENDS,
    Variant,
    build_report,
    head_to_head_ratios,
    measure_variants,
)
from compressor.methods.configs import MethodConfig
from compressor.methods.quantize import Int8Request
from compressor.methods.registry import Workspace, method_for
from compressor.models.checkpoint import save_checkpoint
from compressor.models.huggingface import is_hf_model, save_hf_directory
from compressor.models.onnx_file import read_onnx_handle
from compressor.models.pixel_input import with_pixel_input
from compressor.report.files import WritableReport
from compressor.report.verdict import speed_verdicts
from compressor.runtime import ENGINE_KEY, get_backend
from compressor.tasks import get_task

_scratch: Path | None = None


def _scratch_folder() -> Path:
    """Where in-memory results keep their files (an int8 ONNX file): one folder, removed at exit."""
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="compressor-"))
        atexit.register(shutil.rmtree, _scratch, True)
    return _scratch


def _bundle(data: DatasetBundle | str) -> DatasetBundle:
    return load_dataset(data) if isinstance(data, str) else data


ToOnnx = Callable[[ModelHandle], ModelHandle]


def _onnx_exporter(data: DatasetBundle, folder: Path) -> ToOnnx:
    """model -> its ONNX file in `folder`, exported once per model, parity-checked on real val samples."""
    exported: dict[int, ModelHandle] = {}

    def to_onnx(model: ModelHandle) -> ModelHandle:
        if model.module is None:
            return model
        if "onnx" in model.artifacts:
            return model.artifacts["onnx"]
        if id(model) not in exported:
            target = folder / f"{model.file_stem}.{len(exported)}.onnx"
            info(f"exporting {model.name} to ONNX")
            exported[id(model)] = export_onnx(model, target, parity_inputs=parity_batch(model, data))[0]
        return exported[id(model)]

    return to_onnx


def compress(
    model: ModelHandle, config: MethodConfig, data: DatasetBundle | str, output: str | Path | None = None
) -> ModelHandle:
    """`model` compressed by the method `config` names (`Int8`, `Fp16`, `Bf16`, `Prune`, `Distill` or a
    plug-in's), as a new handle; `model` is left as it was. The files the method makes (an int8 ONNX file,
    a distilled checkpoint) go to `output` if given, else to a scratch folder removed when Python exits."""
    config.check()
    method = method_for(config)
    if config.needs_torch and model.module is None:
        raise InputFileError(f"{model.name} is an ONNX model; {config.kind} needs a torch model")
    bundle = _bundle(data)
    folder = Path(output) if output is not None else Path(tempfile.mkdtemp(dir=_scratch_folder()))
    make_folder(folder)
    compressed = method.apply(model, config, bundle, Workspace(folder, _onnx_exporter(bundle, folder)))
    if compressed is model:
        raise OptionError(f"{type(config).__name__}: the method returned its input unchanged")
    methods = [*model.metadata.get("methods", []), config.record()]
    return dataclasses.replace(compressed, metadata={**compressed.metadata, "methods": methods})


def export(
    model: ModelHandle, config: ExportConfig, output: str | Path, data: DatasetBundle | str | None = None
) -> ModelHandle | JetsonManifest:
    """`model` exported to `output`: `Onnx`, `OpenVino` and `TensorRT` give a handle of what they wrote
    (measurable on onnxruntime, openvino or tensorrt), `Jetson` the bundle's manifest. `data` feeds the
    parity check (random inputs without it) and int8 calibration (required for it)."""
    bundle = _bundle(data) if data is not None else None
    if config.raw_pixels:
        model = with_pixel_input(model)
    output = Path(output)
    if isinstance(config, Onnx):
        parity = parity_batch(model, bundle) if bundle is not None else None
        return export_onnx(model, output, parity_inputs=parity, opset=config.opset or DEFAULT_OPSET)[0]
    if isinstance(config, OpenVino):
        parity = parity_batch(model, bundle) if bundle is not None else None
        inputs = parity or get_task(model.task).example_inputs(model.input_spec, 8)
        return export_openvino_ir(model, output, inputs, config.opset or DEFAULT_OPSET)[0]
    if bundle is None:
        raise OptionError(f"{type(config).__name__} export needs `data`: it calibrates and checks on it")
    int8 = Int8Request(calibration=config.calibration, calib_samples=config.calib_samples)  # type: ignore[attr-defined]
    config.check()
    if isinstance(config, TensorRT):
        tensorrt_engine(model, bundle, output, config.precision, config.batch_profile(), config.timing_cache, int8)
        return _engine_handle(output, config.precision)
    if isinstance(config, Jetson):
        check_bundle_task(model)
        make_folder(output)
        return jetson_bundle(
            model, bundle, output, config.precision, config.jetpack, config.batch_size, int8, config.max_samples
        )
    raise OptionError(f"unknown export target {type(config).__name__}; use Onnx, OpenVino, TensorRT or Jetson")


def _engine_handle(engine: Path, precision: str) -> ModelHandle:
    """The engine `tensorrt_engine` wrote, as a handle the tensorrt backend runs."""
    onnx_file = engine.with_suffix(".int8.onnx") if precision == "int8" else engine.with_suffix(".onnx")
    handle = read_onnx_handle(onnx_file)
    return dataclasses.replace(handle, metadata={**handle.metadata, ENGINE_KEY: str(engine), "precision": precision})


def _variant(name: str, model: ModelHandle, to_onnx: ToOnnx, backends: list[str]) -> Variant:
    artifacts = {model.kind: model, **model.artifacts}
    needs_onnx = any(get_backend(backend).runs != "torch" for backend in backends)
    if model.module is not None and "onnx" not in artifacts and needs_onnx:
        artifacts["onnx"] = to_onnx(model)
    return Variant(name, str(model.metadata.get("precision", "fp32")), artifacts)


def measure(
    models: dict[str, ModelHandle],
    data: DatasetBundle | str,
    backends: Sequence[str] | None = None,
    device: str = "cpu",
    batch_sizes: Sequence[int] = (1, 16),
    max_samples: int | None = None,
) -> WritableReport:
    """Every model on every backend, accuracy, latency, memory and size, in one run; the first model is
    the reference the others are timed against head to head. A torch model measured on an ONNX or engine
    backend is exported for it first. `report.write(folder)` writes report.json, .md and .html."""
    if not models:
        raise OptionError("measure needs at least one model")
    bundle = _bundle(data)
    backends = list(backends or DEFAULT_BACKENDS)
    folder = Path(tempfile.mkdtemp(dir=_scratch_folder()))
    to_onnx = _onnx_exporter(bundle, folder)
    variants = [_variant(name, model, to_onnx, backends) for name, model in models.items()]
    variants = engine_artifacts(variants, backends, folder, list(batch_sizes))
    reference = variants[0].name
    rows, samples = measure_variants(variants, bundle, backends, device, list(batch_sizes), max_samples)
    ratios = head_to_head_ratios(variants, rows, device, reference)
    verdicts = speed_verdicts(rows, reference, ratios)
    for verdict in verdicts:
        (info if verdict.faster else warn)(verdict.sentence())
    first = next(iter(models.values()))
    settings = {name: model.metadata["methods"] for name, model in models.items() if model.metadata.get("methods")}
    verdict_dicts = [v.model_dump() for v in verdicts]
    report = build_report(first, bundle, rows, samples, None, reference, verdicts=verdict_dicts, settings=settings)
    report.notes += [verdict.sentence() for verdict in verdicts]
    return WritableReport.model_validate(report.model_dump(by_alias=True))


def save(model: ModelHandle, path: str | Path) -> Path:
    """Write `model` where a later `load_model(path)` finds it: a torch model as a self-describing
    checkpoint (a Hugging Face model as a directory), an ONNX model as a copy of its file."""
    path = Path(path)
    make_folder(path.parent)
    if model.module is None:
        assert model.onnx_path is not None
        shutil.copyfile(model.onnx_path, path)
    elif is_hf_model(model):
        save_hf_directory(model, path, model.describe())
    else:
        save_checkpoint(path, model.module.state_dict(), model.describe())
    return path
