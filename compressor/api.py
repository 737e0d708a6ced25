"""The library behind every CLI command: one public function per command, with the same options."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from compressor.data import DEFAULT_DATASET, DatasetBundle, calibration_split, load_dataset
from compressor.distributed import init_distributed, is_distributed, is_main_process, main_process_first, world_size
from compressor.environment import collect_environment
from compressor.errors import InputFileError, ModelMismatchError, OptionError, UnknownNameError
from compressor.export.engines import engine_artifact, engine_from_onnx
from compressor.export.jetson import (
    JETSON_OPSET,
    JetsonManifest,
    calibration_record,
    check_jetson_options,
    make_static,
    measure_bundle_accuracy,
    write_bundle_files,
)
from compressor.export.onnx import ParityResult, export_onnx
from compressor.export.tensorrt import ENGINE_PRECISIONS, BatchProfile, EngineRecord, import_tensorrt, require_cuda
from compressor.measure import Variant, head_to_head_ratios, measure_variants
from compressor.methods.calibration import DatasetCalibrationReader
from compressor.methods.distill import Teacher, parse_feature_pairs
from compressor.methods.half import torch_half_handle
from compressor.methods.prune import FINETUNE_LR_SCALE, prune_model, save_pruned
from compressor.methods.prune_options import PruneRequest, sweep_requests
from compressor.methods.quantize import PRECISIONS, Int8Request, fp16_onnx, int8_method, quantize_onnx_int8, stamp
from compressor.models.checkpoint import read_checkpoint, save_checkpoint
from compressor.models.handle import ModelHandle
from compressor.models.huggingface import TRAINING_RECORD, is_hf_model, save_hf_directory
from compressor.models.loading import RANDOM_WEIGHTS, is_file_factory, load_model
from compressor.models.precision import FULL_PRECISION, model_precision, require_full_precision
from compressor.models.registry import ZooEntry, get_entry, is_zoo_name, list_entries
from compressor.op_profile import OpTimes, op_type_times, profile_batch_size, profile_pair, top_op_types
from compressor.progress import info, warn
from compressor.pruning_report import UNSTRUCTURED_NOTE, annotate_rows, sweep_plot, sweep_summary
from compressor.report import DatasetInfo, Report, ResultRow, busy_machine_note, write_report
from compressor.runtime.torch_runner import TorchRunner, check_device
from compressor.tasks import get_task
from compressor.train import TrainConfig, TrainResult, fit
from compressor.train_state import run_signature, state_path_for
from compressor.verdict import VerdictKey, speed_verdicts

PARITY_SAMPLES = 32


def list_models() -> list[ZooEntry]:
    return list_entries()


def train_handle(
    handle: ModelHandle,
    bundle: DatasetBundle,
    output: str | Path,
    epochs: int,
    config: TrainConfig | None = None,
    teacher: Teacher | None = None,
    resume: bool = False,
    val_set: Dataset | None = None,
) -> TrainResult:
    """Train a torch handle on `bundle` (against a `teacher`'s outputs too, if given) and write a
    self-describing checkpoint to `output` (a Hugging Face model: a model directory).

    The training state is saved beside it after every epoch (NAME.state.pt, removed once the
    checkpoint is written); with `resume` the run continues from that state, and a checkpoint this
    run already finished is taken as it is."""
    assert handle.module is not None
    config = config or TrainConfig()
    config.epochs = epochs
    task = get_task(handle.task)
    output, state_path = Path(output), state_path_for(output)
    signature = run_signature(config, world_size())
    if resume and output.exists() and not state_path.is_file():
        return _finished_training(handle, bundle, output, signature, task.primary_metric)
    if state_path.is_file() and not resume:
        warn(f"{state_path} holds an interrupted run; training from the start (pass --resume to continue it)")
    result = fit(
        handle.module,
        task,
        bundle.split("train", handle.input_spec),
        val_set if val_set is not None else bundle.split("val", handle.input_spec),
        handle.input_spec,
        config,
        description=f"{'distill' if teacher else 'train'} {handle.name}",
        teacher=teacher,
        state_path=state_path,
        resume=resume,
    )
    training = {
        "dataset": bundle.name,
        "dataset_fingerprint": bundle.fingerprint,
        "epochs": epochs,
        "best_epoch": result.best_epoch,
        task.primary_metric: result.best_metric,
        "seed": config.seed,
        "signature": signature,
        **({"temperature": teacher.temperature, "alpha": teacher.alpha} if teacher else {}),
    }
    if is_main_process():
        _save_trained(handle, output, {**handle.describe(), "train": training})
        state_path.unlink(missing_ok=True)
    handle.weights = str(output)
    info(f"saved {output}: best val {task.primary_metric} {result.best_metric:.4f} at epoch {result.best_epoch}")
    return result


def _save_trained(handle: ModelHandle, output: Path, description: dict[str, Any]) -> None:
    assert handle.module is not None
    if is_hf_model(handle):
        save_hf_directory(handle, output, description)
    else:
        save_checkpoint(output, handle.module.state_dict(), description)


def read_training_record(output: Path) -> dict[str, Any]:
    """What the training that wrote `output` (a checkpoint or a model directory) recorded about itself."""
    if output.is_dir():
        record = output / TRAINING_RECORD
        description = json.loads(record.read_text()) if record.is_file() else {}
    else:
        description = read_checkpoint(output).description or {}
    return description.get("train", {})


def _finished_training(
    handle: ModelHandle, bundle: DatasetBundle, output: Path, signature: dict[str, Any], metric: str
) -> TrainResult:
    """--resume where this run's checkpoint is already written: its weights, and what its training recorded."""
    training = read_training_record(output)
    if training.get("signature") != signature:
        raise OptionError(
            f"{output} was written by a run with other options; resume with the same options, or pass --force "
            "without --resume to start again"
        )
    finished = load_model(str(output), bundle)
    assert handle.module is not None and finished.module is not None
    handle.module.load_state_dict(finished.module.state_dict())
    handle.weights = str(output)
    info(f"{output} is already trained (val {metric} {training[metric]:.4f}); resuming past it")
    return TrainResult(training[metric], training["best_epoch"])


def train_config(model: str, **given: Any) -> TrainConfig:
    """The zoo model's own training recipe (e.g. a Transformer's lower lr), with the options given (non-None) on top."""
    recipe = dict(get_entry(model).train_recipe) if is_zoo_name(model) else {}
    return TrainConfig(**{**recipe, **{key: value for key, value in given.items() if value is not None}})


def train(
    model: str,
    output: str | Path,
    data: str = DEFAULT_DATASET,
    epochs: int = 5,
    image_size: tuple[int, int] | None = None,
    config: TrainConfig | None = None,
    resume: bool = False,
) -> tuple[ModelHandle, TrainResult]:
    """`compress train`: a zoo model or file factory from random weights to a checkpoint (DDP under torchrun)."""
    if not (is_zoo_name(model) or is_file_factory(model)):
        if Path(model).expanduser().exists():
            raise InputFileError(
                f"compress train builds a zoo model or file.py:factory from scratch; {model} is a trained model "
                "(checkpoint, .onnx or Hugging Face directory): bench or export it by path instead"
            )
        get_entry(model)  # an unknown name: the registry's error suggests close names
    config = config or train_config(model)
    check_device(config.device)
    config.device = init_distributed(config.device)
    config.distributed = is_distributed()
    bundle, handle = _load_torch_model(model, data, RANDOM_WEIGHTS, image_size, "training")
    return handle, train_handle(handle, bundle, output, epochs, config, resume=resume)


def _load_torch_model(
    model: str, data: str, weights: str | None, image_size: tuple[int, int] | None, purpose: str
) -> tuple[DatasetBundle, ModelHandle]:
    """The dataset and a torch model for it; an ONNX source is refused for `purpose`."""
    bundle = load_dataset(data)
    return bundle, _torch_model(model, bundle, weights, image_size, purpose)


def _torch_model(
    model: str, bundle: DatasetBundle, weights: str | None, image_size: tuple[int, int] | None, purpose: str
) -> ModelHandle:
    """An fp32 torch model for `bundle`; an ONNX source or fp16/bf16 weights are refused for `purpose`."""
    handle = load_model(model, bundle, weights=weights, image_size=image_size)
    if handle.module is None:
        raise InputFileError(f"{model} is an ONNX model; {purpose} needs a torch model")
    require_full_precision(handle, purpose)
    return handle


def _parity_batch(handle: ModelHandle, bundle: DatasetBundle) -> list[torch.Tensor]:
    """A real val batch for the export parity check (random inputs hide saturation and NaN issues)."""
    task = get_task(handle.task)
    loader = DataLoader(
        bundle.split("val", handle.input_spec),
        batch_size=PARITY_SAMPLES,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        collate_fn=task.collate,
    )
    inputs, _ = task.prepare_batch(next(iter(loader)), handle.input_spec)
    return inputs


def export(
    model: str,
    output: str | Path,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    image_size: tuple[int, int] | None = None,
    opset: int | None = None,
) -> tuple[ModelHandle, ParityResult]:
    """`compress export --format onnx`: a checked ONNX file with parity against torch in its metadata."""
    bundle, handle = _load_torch_model(model, data, weights, image_size, "export")
    extra = {"opset": opset} if opset is not None else {}
    return export_onnx(handle, output, parity_inputs=_parity_batch(handle, bundle), **extra)


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
) -> EngineRecord:
    """`compress export --format tensorrt`: a serialized engine for this machine's GPU, built from our ONNX
    (Q/DQ for int8), with the ONNX it came from and a JSON record beside it."""
    if precision not in ENGINE_PRECISIONS:
        raise UnknownNameError(
            f"unknown precision {precision!r} for TensorRT; choose from {', '.join(ENGINE_PRECISIONS)}"
        )
    import_tensorrt()  # fail before any export work: one line naming the extra
    require_cuda()
    output = Path(output)
    bundle, handle = _load_torch_model(model, data, weights, image_size, "TensorRT export")
    onnx_handle, _ = export_onnx(handle, output.with_suffix(".onnx"), parity_inputs=_parity_batch(handle, bundle))
    with tempfile.TemporaryDirectory(prefix="compressor-tensorrt-") as scratch:
        if precision == "int8":
            onnx_handle, _ = _tensorrt_int8(onnx_handle, bundle, int8, output.with_suffix(".int8.onnx"), Path(scratch))
        cache = Path(timing_cache) if timing_cache else output.with_suffix(".timing-cache")
        return engine_from_onnx(onnx_handle, output, precision, batch, cache)[1]


def _tensorrt_int8(
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
    force: bool = False,
) -> JetsonManifest:
    """`compress export --format jetson`: a bundle for the board (static-shape ONNX, Q/DQ for int8; engine
    and benchmark scripts; manifest with the accuracy model.onnx gives under onnxruntime here)."""
    check_jetson_options(precision, jetpack, batch_size)
    output_dir = Path(output_dir)
    _refuse_earlier_results(output_dir, force, marker="manifest.json")
    bundle, handle = _load_torch_model(model, data, weights, image_size, "a Jetson bundle")
    if handle.task not in ("classification", "detection"):
        raise OptionError(
            f"Jetson bundles hold image models (classifiers, detectors); {handle.name} is a {handle.task} model"
        )
    _prepare_output_dir(output_dir, force, marker="manifest.json")
    task = get_task(handle.task)
    with tempfile.TemporaryDirectory(prefix="compressor-jetson-") as scratch:
        work = Path(scratch)
        fp32, _ = export_onnx(
            handle, work / "fp32.onnx", parity_inputs=_parity_batch(handle, bundle), opset=JETSON_OPSET
        )
        source, calibration = fp32, None
        if precision == "int8":
            source, request = _tensorrt_int8(fp32, bundle, int8, work / "int8.onnx", work)
            calibration_set = calibration_split(bundle, handle.input_spec, request.calib_samples)
            reader = DatasetCalibrationReader(calibration_set, task, handle.input_spec, list(task.input_names))
            calibration = calibration_record(bundle, reader, len(calibration_set), request.calibration)  # type: ignore[arg-type]
        assert source.onnx_path is not None
        static = make_static(source.onnx_path, output_dir / "model.onnx", batch_size, handle.input_spec.shape)
        accuracy = measure_bundle_accuracy(fp32, output_dir / "model.onnx", bundle, batch_size, max_samples)
    manifest = write_bundle_files(output_dir, handle, static, precision, jetpack, batch_size, accuracy, calibration)
    info(
        f"bundle {task.primary_metric}: {accuracy.bundle:.4f} (fp32 {accuracy.fp32:.4f}) on {accuracy.samples} val "
        "samples, onnxruntime CPU"
    )
    return manifest


def _baseline_artifacts(
    handle: ModelHandle, bundle: DatasetBundle, with_onnx: bool, onnx_path: Path
) -> dict[str, ModelHandle]:
    """The artifact for each backend: the torch model itself and its ONNX export (or the given .onnx).
    Used for baselines and for every torch variant (pruned, distilled) alike."""
    if handle.module is None:
        return {"onnxruntime": handle}
    artifacts = {"torch": handle}
    if with_onnx:
        info("exporting to ONNX for the onnxruntime rows")
        artifacts["onnxruntime"], parity = export_onnx(handle, onnx_path, parity_inputs=_parity_batch(handle, bundle))
        info(f"ONNX parity: {parity.summary()}")
    return artifacts


def _report(handle: ModelHandle, bundle: DatasetBundle, rows: list[ResultRow], samples: int, **extra: Any) -> Report:
    task = get_task(handle.task)
    return Report(
        model=handle.name,
        task=handle.task,
        primary_metric=task.primary_metric,
        dataset=DatasetInfo(name=bundle.name, split="val", samples=samples),
        environment=collect_environment(),
        results=rows,
        notes=[
            f"weights: {handle.weights}",
            "latency: per batch after warm-up; fps: samples per second over the timed loop",
            "peak_memory_mb: on CPU, growth of process RSS while the backend loads the model and runs it; "
            "on CUDA, peak bytes allocated by torch",
            "size_mb: weights bytes for torch rows, file size for ONNX rows; macs per sample (torch-pruning's counter)",
            *([task.measurement_note] if task.measurement_note else []),
            "background_cpu: share of the machine's CPU that other processes used while the row was timed",
            *filter(None, [busy_machine_note(rows)]),
        ],
        **extra,
    )


def bench(
    model: str,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    backends: list[str] | None = None,
    device: str = "cpu",
    batch_sizes: list[int] | None = None,
    max_samples: int | None = None,
    image_size: tuple[int, int] | None = None,
    workdir: str | Path | None = None,
    profile: bool = False,
) -> Report:
    """`compress bench`: accuracy, latency, throughput, memory and size of one model on each backend.

    On CUDA it also measures the torch model in fp16 and bf16 and, with TensorRT installed, fp32 and
    fp16 engines built from the ONNX export (the `tensorrt` backend, on by default there). `profile`:
    also the ONNX model's kernel time by op type on onnxruntime's CPU provider, at the first batch size
    (`op_profile`), as the report's `op_time_ms`."""
    backends = backends or ["torch", "onnxruntime", *(["tensorrt"] if device == "cuda" else [])]
    batch_sizes = batch_sizes or [1, 16]
    check_device(device)
    if profile and (device != "cpu" or "onnxruntime" not in backends):
        raise OptionError("--profile times onnxruntime's CPU kernels: it needs --device cpu and that backend")
    bundle = load_dataset(data)
    handle = load_model(model, bundle, weights=weights, image_size=image_size)
    _check_precision_backends(handle, backends)
    with tempfile.TemporaryDirectory(prefix="compressor-bench-") as scratch:
        work = Path(workdir) if workdir is not None else Path(scratch)
        needs_onnx = bool({"onnxruntime", "tensorrt"} & set(backends))
        artifacts = _baseline_artifacts(handle, bundle, needs_onnx, work / "baseline.onnx")
        variants = [Variant("baseline", model_precision(handle), artifacts)]
        if device == "cuda" and variants[0].precision == FULL_PRECISION:  # a compressed model is measured as it is
            variants += _cuda_variants(handle, artifacts, "tensorrt" in backends, work, batch_sizes)
        rows, samples = measure_variants(variants, bundle, backends, device, batch_sizes, max_samples)
        extra = {"op_time_ms": _op_times(artifacts["onnxruntime"], batch_sizes[0])} if profile else {}
    return _report(handle, bundle, rows, samples, **extra)


def _check_precision_backends(handle: ModelHandle, backends: list[str]) -> None:
    """A torch model with fp16/bf16 weights runs on torch only: its ONNX form is the one `compress quantize`
    wrote beside it (exporting half weights again fails in the exporter's type checks)."""
    precision = model_precision(handle)
    if handle.module is not None and precision != FULL_PRECISION and backends != ["torch"]:
        raise OptionError(
            f"{handle.name} holds {precision} weights: bench it with --backend torch, and its .onnx file (written by "
            "compress quantize beside it) for onnxruntime"
        )


def _op_times(onnx_handle: ModelHandle, batch_size: int) -> dict[str, object]:
    """The model's kernel time by op type on onnxruntime (see `op_profile`), said aloud and reported."""
    assert onnx_handle.onnx_path is not None
    inputs = _profile_inputs(onnx_handle, batch_size)
    times = op_type_times(onnx_handle.onnx_path, inputs)
    info(f"onnxruntime's kernel time at batch {len(inputs[0])}, ms per run by op type: {top_op_types(times)}")
    return {"batch_size": len(inputs[0]), "baseline": times}


def _profile_inputs(handle: ModelHandle, batch_size: int) -> list[torch.Tensor]:
    """Example inputs to profile on: `batch_size` samples, or the task's fixed batch (detectors: 1)."""
    task = get_task(handle.task)
    return task.example_inputs(handle.input_spec, task.fixed_batch_size or batch_size)


def _cuda_variants(
    handle: ModelHandle, baseline: dict[str, ModelHandle], tensorrt: bool, work: Path, batch_sizes: list[int]
) -> list[Variant]:
    """What a GPU user compares: torch fp16/bf16, and TensorRT engines (fp32 joins the baseline's artifacts)."""
    onnx_handle = baseline.get("onnxruntime") if tensorrt else None
    cache = work / "tensorrt.timing-cache"
    engine = engine_artifact(onnx_handle, work / "fp32.engine", "fp32", cache, batch_sizes)
    if engine is None:
        onnx_handle = None  # TensorRT cannot run here: no fp16 engine either
    else:
        baseline["tensorrt"] = engine
    variants = []
    for precision in ("fp16", "bf16"):
        artifacts = {"torch": torch_half_handle(handle, precision)} if handle.module is not None else {}
        if precision == "fp16":
            half_engine = engine_artifact(onnx_handle, work / "fp16.engine", "fp16", cache, batch_sizes)
            artifacts.update({"tensorrt": half_engine} if half_engine is not None else {})
        if artifacts:
            variants.append(Variant(precision, precision, artifacts))
    return variants


def _refuse_earlier_results(output_dir: Path, force: bool, marker: str = "report.json") -> None:
    """Refuse to overwrite an earlier run's results unless asked: an hour of work is easy to lose. Checked
    before anything slow (a reference checkpoint's training) as well as just before writing."""
    if output_dir.exists() and not output_dir.is_dir():
        raise InputFileError(f"{output_dir} is a file; -o takes a directory")
    if (output_dir / marker).exists() and not force:
        raise InputFileError(f"{output_dir} already holds results ({marker}); pass --force to overwrite them")


def _prepare_output_dir(output_dir: Path, force: bool, marker: str = "report.json") -> None:
    """OUTDIR, made once every input has been checked (a failed start leaves no empty folder behind)."""
    _refuse_earlier_results(output_dir, force, marker)
    output_dir.mkdir(parents=True, exist_ok=True)


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
    force: bool = False,
) -> Report:
    """`compress quantize`: baseline and quantized model measured side by side in one run, written to OUTDIR."""
    if precision not in PRECISIONS:
        raise UnknownNameError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    batch_sizes = batch_sizes or [1, 16]
    int8 = dataclasses.replace(int8 or Int8Request(), batch_sizes=tuple(batch_sizes))
    check_device(device)
    output_dir = Path(output_dir)
    _refuse_earlier_results(output_dir, force)
    bundle = load_dataset(data)
    handle = load_model(model, bundle, weights=weights, image_size=image_size)
    require_full_precision(handle, "quantization")
    if precision == "bf16" and handle.module is None:
        raise InputFileError(
            f"{model} is an ONNX model; bf16 is for torch models (onnxruntime's CPU provider has no bf16 kernels)"
        )
    if precision == "int8":
        int8_method(int8, get_task(handle.task))  # a contradictory request fails before OUTDIR is touched
    _prepare_output_dir(output_dir, force)
    baseline = _baseline_artifacts(handle, bundle, True, output_dir / "baseline.onnx")
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
        else:
            variant = _half_variant(handle, onnx_baseline, precision, output_dir, scratch)
            onnx_half = variant.artifacts.get("onnxruntime")
            extra["quantization"] = {"kept_float32_ops": onnx_half.metadata["kept_float32_ops"]} if onnx_half else {}
        backends = [backend for backend in ("torch", "onnxruntime") if backend in variant.artifacts]
        measured = _side_by_side(
            [Variant("baseline", "fp32", baseline), variant], bundle, backends, device, batch_sizes, max_samples
        )
    explanation = None
    if precision == "int8" and device == "cpu":
        op_times, slower = _int8_op_times(onnx_baseline, outcome.handle, measured, batch_sizes)
        extra["quantization"]["op_time_ms"] = op_times.to_dict("baseline", "int8")
        explanation = op_times.sentence("baseline", "int8") if slower else None
    report = _write_compared(handle, bundle, measured, output_dir, extra, [explanation] if explanation else [])
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
    return profile_pair(baseline.onnx_path, int8.onnx_path, _profile_inputs(baseline, batch_size)), slower


@dataclasses.dataclass
class SideBySide:
    """The rows of one measuring run, and each variant timed head to head against the reference."""

    rows: list[ResultRow]
    samples: int
    reference: str
    head_to_head: dict[VerdictKey, list[float]]


def _side_by_side(
    variants: list[Variant],
    bundle: DatasetBundle,
    backends: list[str],
    device: str,
    batch_sizes: list[int],
    max_samples: int | None,
    reference: str = "baseline",
) -> SideBySide:
    rows, samples = measure_variants(variants, bundle, backends, device, batch_sizes, max_samples)
    return SideBySide(rows, samples, reference, head_to_head_ratios(variants, rows, device, reference))


def _write_compared(
    handle: ModelHandle,
    bundle: DatasetBundle,
    measured: SideBySide,
    output_dir: Path,
    extra: dict[str, Any],
    notes: list[str] | None = None,
) -> Report:
    """The report of a baseline-vs-compressed run: verdicts said aloud (warned when not faster) and written."""
    rows, samples = measured.rows, measured.samples
    verdicts = speed_verdicts(rows, measured.reference, measured.head_to_head)
    for verdict in verdicts:
        (info if verdict.faster else warn)(verdict.sentence())
    report = _report(handle, bundle, rows, samples, verdicts=[v.model_dump() for v in verdicts], **extra)
    report.notes += (notes or []) + [verdict.sentence() for verdict in verdicts]
    write_report(report, output_dir / "report.json", output_dir / "report.md")
    return report


def prune(
    model: str,
    output_dir: str | Path,
    request: PruneRequest | None = None,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    sweep: list[float] | None = None,
    sweep_by: str = "sparsity",
    lr: float | None = None,
    device: str = "cpu",
    batch_sizes: list[int] | None = None,
    max_samples: int | None = None,
    image_size: tuple[int, int] | None = None,
    force: bool = False,
) -> Report:
    """`compress prune`: baseline and pruned model(s) measured side by side in one run, written to OUTDIR.

    With `sweep`, the model is pruned once per level (`sweep_by`: sparsity or threshold), each from
    the unpruned model, and the report adds a `sweep` block and sweep.png (accuracy against latency).
    """
    request = request or PruneRequest()
    requests = sweep_requests(request, sweep, sweep_by) if sweep else [request]
    for each in requests:
        each.check()
    batch_sizes = batch_sizes or [1, 16]
    check_device(device)
    output_dir = Path(output_dir)
    _refuse_earlier_results(output_dir, force)
    bundle, handle = _load_torch_model(model, data, weights, image_size, "pruning")
    _prepare_output_dir(output_dir, force)
    baseline = _baseline_artifacts(handle, bundle, True, output_dir / "baseline.onnx")
    config = train_config(model, lr=lr)
    config.lr = lr or config.lr * FINETUNE_LR_SCALE
    variants, outcomes = [], []
    for each in requests:
        name, stem = (
            ("pruned", "model.pruned") if not sweep else (f"pruned@{each.level:g}", f"sweep/pruned-{each.level:g}")
        )
        info(f"{name}: pruning {handle.name}")
        pruned, outcome = prune_model(handle, bundle, each, config)
        pruned = save_pruned(pruned, output_dir / f"{stem}.pt")
        variants.append(Variant(name, "fp32", _baseline_artifacts(pruned, bundle, True, output_dir / f"{stem}.onnx")))
        outcomes.append(outcome)
    measured = [Variant("baseline", "fp32", baseline), *variants]
    compared = _side_by_side(measured, bundle, ["torch", "onnxruntime"], device, batch_sizes, max_samples)
    rows = compared.rows
    annotate_rows(rows, measured, {variant.name: outcome for variant, outcome in zip(variants, outcomes, strict=True)})
    extra: dict[str, Any] = {}
    if sweep:
        extra["sweep"] = sweep_summary(rows, outcomes, variants, get_task(handle.task).primary_metric)
        extra["sweep_plot"] = str(sweep_plot(rows, variants, handle, get_task(handle.task).primary_metric, output_dir))
    else:
        extra["pruning"] = outcomes[0].summary()
    notes = [UNSTRUCTURED_NOTE] if not request.structured else []
    return _write_compared(handle, bundle, compared, output_dir, extra, notes)


def distill(
    teacher: str,
    student: str,
    output_dir: str | Path,
    data: str = DEFAULT_DATASET,
    teacher_weights: str | None = None,
    epochs: int = 5,
    temperature: float = 4.0,
    alpha: float = 0.7,
    feature_pairs: list[str] | None = None,
    feature_weight: float = 1.0,
    compare_scratch: bool = False,
    lr: float | None = None,
    seed: int = 0,
    resume: bool = False,
    device: str = "cpu",
    batch_sizes: list[int] | None = None,
    max_samples: int | None = None,
    image_size: tuple[int, int] | None = None,
    force: bool = False,
) -> Report | None:
    """`compress distill`: a student trained against the teacher (and, if asked, the same student trained
    without it, same seed and budget), measured beside the teacher in one run and written to OUTDIR.

    Under torchrun every process trains a DDP replica; rank 0 measures and writes, and the others
    return None once training is done."""
    if temperature <= 0 or not 0.0 <= alpha <= 1.0 or feature_weight < 0:
        raise OptionError(
            f"--temperature must be > 0, --alpha in [0, 1] and --feature-weight >= 0; got {temperature}, {alpha} "
            f"and {feature_weight}"
        )
    pairs = parse_feature_pairs(feature_pairs or [])
    batch_sizes = batch_sizes or [1, 16]
    check_device(device)
    output_dir = Path(output_dir)
    _refuse_earlier_results(output_dir, force)
    train_device = init_distributed(device)
    bundle = load_dataset(data)
    # The students first: a misspelt one fails before a missing reference teacher is trained (minutes).
    students = {"distilled": _student(student, bundle, image_size)}
    if compare_scratch:  # built again from the same seed: the same initial weights
        students["scratch"] = _student(student, bundle, image_size)
    with main_process_first():  # a missing reference teacher is trained once, by rank 0
        teacher_handle = _torch_model(teacher, bundle, teacher_weights, image_size, "distillation")
    objective = get_task(teacher_handle.task).distillation
    if objective is None:
        raise OptionError(f"no distillation loss for {teacher_handle.task} models like {teacher_handle.name}")
    if compare_scratch and objective == "embedding":
        raise OptionError("--compare-scratch: an embedding student has no labels to learn from without its teacher")
    _check_student_fits(students["distilled"], student, teacher_handle)
    _prepare_output_dir(output_dir, force)
    assert teacher_handle.module is not None
    guide = Teacher(teacher_handle.module, temperature, alpha, objective, pairs, feature_weight)
    config = train_config(student, lr=lr, seed=seed, device=train_device, distributed=is_distributed())
    val_set = _distillation_val_set(teacher_handle, bundle) if objective == "embedding" else None
    summary: dict[str, Any] = {
        "teacher": teacher_handle.name,
        "objective": objective,
        "temperature": temperature,
        "alpha": alpha,
        "feature_pairs": [f"{t}:{s}" for t, s in pairs],
        "epochs": epochs,
        "processes": world_size(),
    }
    for name, handle in students.items():
        output = output_dir / (name if is_hf_model(handle) else f"{name}.pt")
        taught = guide if name == "distilled" else None
        result = train_handle(handle, bundle, output, epochs, dataclasses.replace(config), taught, resume, val_set)
        summary[name] = {"best_epoch": result.best_epoch, "best_val": result.best_metric}
    if not is_main_process():
        return None
    variants = [
        Variant(name, "fp32", _baseline_artifacts(handle, bundle, True, output_dir / f"{name}.onnx"))
        for name, handle in {"teacher": teacher_handle, **students}.items()
    ]
    compared = _side_by_side(variants, bundle, ["torch", "onnxruntime"], device, batch_sizes, max_samples, "teacher")
    return _write_compared(students["distilled"], bundle, compared, output_dir, {"distillation": summary})


def _distillation_val_set(teacher: ModelHandle, bundle: DatasetBundle) -> Dataset:
    """Val texts scored by the cosine of the student's embeddings to the teacher's (no labels needed)."""
    assert teacher.module is not None
    task = get_task(teacher.task)
    return task.scoring_set(bundle.split("val", teacher.input_spec), TorchRunner(teacher.module), teacher.input_spec)


def _student(student: str, bundle: DatasetBundle, image_size: tuple[int, int] | None) -> ModelHandle:
    """The student: a zoo model or factory freshly initialised; a checkpoint or model directory as saved."""
    fresh = is_zoo_name(student) or is_file_factory(student)
    handle = load_model(student, bundle, weights=RANDOM_WEIGHTS if fresh else None, image_size=image_size)
    if handle.module is None:
        raise InputFileError(f"{student} is an ONNX model; a student must be a torch model to train")
    require_full_precision(handle, "a student")
    return handle


def _check_student_fits(handle: ModelHandle, student: str, teacher: ModelHandle) -> None:
    """The student must take the teacher's inputs."""
    if handle.task != teacher.task or handle.input_spec.shape != teacher.input_spec.shape:
        raise ModelMismatchError(
            f"student {student} ({handle.task}, input {handle.input_spec.shape}) does not take the teacher's "
            f"inputs ({teacher.task}, {teacher.input_spec.shape}); pass --image-size to size both alike"
        )


def _half_variant(
    handle: ModelHandle, onnx_baseline: ModelHandle, precision: str, output_dir: Path, scratch: Path
) -> Variant:
    """fp16: a torch half model and an fp16 ONNX file; bf16: the torch model only."""
    artifacts: dict[str, ModelHandle] = {}
    if handle.module is not None:
        artifacts["torch"] = torch_half_handle(handle, precision)
        if is_zoo_name(handle.name):
            state = artifacts["torch"].module.state_dict()  # type: ignore[union-attr]
            save_checkpoint(output_dir / f"model.{precision}.pt", state, {**handle.describe(), "precision": precision})
    if precision == "fp16":
        artifacts["onnxruntime"], kept = fp16_onnx(onnx_baseline, output_dir / "model.fp16.onnx", scratch)
        info(f"fp16 ONNX: {', '.join(kept) or 'no'} op types kept in float32; inputs and outputs stay float32")
    return Variant(precision, precision, artifacts)


__all__ = ["bench", "distill", "export", "get_entry", "list_models", "prune", "quantize", "train", "train_handle"]
