"""`compress bench`: one model measured on each backend."""

from __future__ import annotations

import tempfile
from pathlib import Path

from compressor.commands.common import baseline_artifacts, profile_inputs
from compressor.core.errors import OptionError
from compressor.core.handle import ModelHandle
from compressor.core.progress import info
from compressor.data import DEFAULT_DATASET, load_dataset
from compressor.exporters.engines import engine_artifact
from compressor.measurement.op_profile import op_type_times, top_op_types
from compressor.measurement.variants import DEFAULT_BACKENDS, Variant, build_report, measure_variants
from compressor.methods.half import torch_half_handle
from compressor.models.precision import FULL_PRECISION, model_precision
from compressor.report.schema import Report
from compressor.runtime import get_backend
from compressor.runtime.torch_runner import check_device
from compressor.training.checkpoints import load_or_train


def bench(
    model: str,
    data: str = DEFAULT_DATASET,
    weights: str | None = None,
    backends: list[str] | None = None,
    device: str = "cpu",
    batch_sizes: list[int] | None = None,
    max_samples: int | None = None,
    image_size: tuple[int, int] | None = None,
    fit: str | None = None,
    workdir: str | Path | None = None,
    profile: bool = False,
) -> Report:
    """`compress bench`: accuracy, latency, throughput, memory and size of one model on each backend.

    On CUDA it also measures the torch model in fp16 and bf16 and, with TensorRT installed, fp32 and
    fp16 engines built from the ONNX export (the `tensorrt` backend, on by default there). `profile`:
    also the ONNX model's kernel time by op type on onnxruntime's CPU provider, at the first batch size
    (`op_profile`), as the report's `op_time_ms`."""
    backends = backends or [*DEFAULT_BACKENDS, *(["tensorrt"] if device == "cuda" else [])]
    batch_sizes = batch_sizes or [1, 16]
    check_device(device)
    if "tensorrt" in backends and device != "cuda":  # found only after the ONNX export, as "none could run"
        raise OptionError("the tensorrt backend runs engines on an NVIDIA GPU: add --device cuda")
    if profile and (device != "cpu" or "onnxruntime" not in backends):
        raise OptionError("--profile times onnxruntime's CPU kernels: it needs --device cpu and that backend")
    bundle = load_dataset(data)
    handle = load_or_train(model, bundle, weights=weights, image_size=image_size, fit=fit)
    _check_precision_backends(handle, backends)
    if handle.openvino_ir and (others := [name for name in backends if not get_backend(name).openvino_ir]):
        raise OptionError(f"{model} is an OpenVINO IR, which {', '.join(others)} cannot run: pass --backend openvino")
    with tempfile.TemporaryDirectory(prefix="compressor-bench-") as scratch:
        work = Path(workdir) if workdir is not None else Path(scratch)
        needs_onnx = any(get_backend(backend).runs != "torch" for backend in backends)
        artifacts = baseline_artifacts(handle, bundle, needs_onnx, work / "baseline.onnx")
        variants = [Variant("baseline", model_precision(handle), artifacts)]
        if device == "cuda" and variants[0].precision == FULL_PRECISION:  # a compressed model is measured as it is
            variants += _cuda_variants(handle, artifacts, "tensorrt" in backends, work, batch_sizes)
        rows, samples = measure_variants(variants, bundle, backends, device, batch_sizes, max_samples)
        extra = {"op_time_ms": _op_times(artifacts["onnxruntime"], batch_sizes[0])} if profile else {}
    return build_report(handle, bundle, rows, samples, **extra)


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
    inputs = profile_inputs(onnx_handle, batch_size)
    times = op_type_times(onnx_handle.onnx_path, inputs)
    info(f"onnxruntime's kernel time at batch {len(inputs[0])}, ms per run by op type: {top_op_types(times)}")
    return {"batch_size": len(inputs[0]), "baseline": times}


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
