"""int8 for OpenVINO: NNCF's quantization of the fp32 model beside our Q/DQ file, the faster one kept.

OpenVINO runs a Q/DQ ONNX file as it is, and NNCF, its own quantizer, places int8 where its CPU kernels
gain from it. Neither wins everywhere (a Q/DQ file tuned on onnxruntime keeps in float what only
onnxruntime runs slower in int8), so both are built from the same calibration samples and timed head to
head on OpenVINO, and the faster one is what the openvino rows measure.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compressor.core.errors import MissingDependencyError
from compressor.core.handle import ModelHandle
from compressor.core.progress import info, warn
from compressor.data import calibration_split
from compressor.data.base import DatasetBundle
from compressor.data.loader import data_loader
from compressor.methods.quantize import Int8Request, Scorer
from compressor.methods.speed_tune import TIMING_ROUNDS, round_ratios
from compressor.models.openvino_ir import save_openvino_ir
from compressor.runtime.onnxruntime_runner import as_fed
from compressor.runtime.openvino_runner import OpenVinoRunner, fed_types, read_model
from compressor.tasks import get_task
from compressor.tasks.base import Task

HEAD_TO_HEAD_ROUNDS = TIMING_ROUNDS + 2  # an odd count: the median is one round's ratio
QDQ = "compressor Q/DQ"
NNCF = "nncf"
TRANSFORMER_OPS = {"Softmax", "MatMul"}  # both present: NNCF's transformer scheme (attention kept accurate)


def import_nncf() -> Any:
    try:
        import nncf
    except ImportError as error:
        raise MissingDependencyError("NNCF is not installed: pip install 'compressor[openvino]'") from error
    return nncf


@dataclass
class OpenVinoInt8:
    """What the openvino rows run, and how it was chosen (the report's `quantization.openvino`)."""

    kept: str  # QDQ or NNCF
    handle: ModelHandle
    candidates: dict[str, str] = field(default_factory=dict)  # name -> file
    nncf_speedup: float | None = None  # Q/DQ time over NNCF time, median of the rounds (>1: NNCF faster)
    ratios: list[float] = field(default_factory=list)
    accuracy_control: bool = False

    def summary(self) -> dict[str, object]:
        return {
            "kept": self.kept,
            "candidates": self.candidates,
            "nncf_speedup": None if self.nncf_speedup is None else round(self.nncf_speedup, 3),
            "rounds": [round(ratio, 3) for ratio in self.ratios],
            "nncf_accuracy_control": self.accuracy_control,
        }

    def sentence(self) -> str:
        if self.nncf_speedup is None:
            return f"int8 on openvino: {self.candidates[self.kept]} ({self.kept})"
        return (
            f"int8 on openvino: NNCF's int8 runs {self.nncf_speedup:.2f}x the Q/DQ file's speed (head to head, "
            f"{len(self.ratios)} rounds); kept {self.candidates[self.kept]} ({self.kept})"
        )


@contextlib.contextmanager
def _nncf_off_stdout() -> Iterator[None]:
    """NNCF writes its progress bars and log lines to stdout, which carries our results: send them to
    stderr, where our own progress goes."""
    from nncf.common.logging.logger import nncf_logger

    handlers = [handler for handler in nncf_logger.handlers if isinstance(handler, logging.StreamHandler)]
    streams = [handler.stream for handler in handlers]
    for handler in handlers:
        handler.stream = sys.stderr  # not setStream: it flushes the old stream, closed if it was a test's capture
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            handler.stream = stream


def _feeds(task: Task, batch: Any, model_inputs: list[Any], baseline: ModelHandle) -> dict[str, np.ndarray]:
    inputs, _ = task.prepare_batch(batch, baseline.input_spec)
    fed = zip(model_inputs, fed_types(model_inputs), inputs, strict=True)
    return {port.get_any_name(): as_fed(tensor.numpy(), dtype) for port, dtype, tensor in fed}


def _model_type(nncf: Any, model: Any) -> Any:
    ops = {op.get_type_name() for op in model.get_ops()}
    return nncf.ModelType.TRANSFORMER if ops >= TRANSFORMER_OPS else None


def nncf_int8(
    baseline: ModelHandle,
    bundle: DatasetBundle,
    calib_samples: int,
    target: Path,
    max_accuracy_drop: float | None = None,
    val: Any = None,
) -> ModelHandle:
    """NNCF's post-training int8 of the baseline's fp32 file, one calibration sample per item, written as an
    IR. With `max_accuracy_drop` (points) and `val` (the samples our budget check scores):
    `quantize_with_accuracy_control`, which returns layers to float until the drop holds."""
    nncf = import_nncf()
    assert baseline.onnx_path is not None
    task = get_task(baseline.task)
    model = read_model(baseline.onnx_path)
    calibration = calibration_split(bundle, baseline.input_spec, calib_samples)
    loader = data_loader(calibration, 1, shuffle=False, collate_fn=task.collate)
    dataset = nncf.Dataset(loader, lambda batch: _feeds(task, batch, model.inputs, baseline))
    options = {"subset_size": len(calibration), "model_type": _model_type(nncf, model)}  # type: ignore[arg-type]
    if max_accuracy_drop is None:
        info(f"int8 for openvino: NNCF's post-training quantization on {len(calibration)} train samples")  # type: ignore[arg-type]
        with _nncf_off_stdout():
            quantized = nncf.quantize(model, dataset, **options)
    else:
        info(f"int8 for openvino: NNCF's quantization with accuracy control ({max_accuracy_drop} pt)")
        val_loader = data_loader(val, task.eval_batch_size, shuffle=False, collate_fn=task.collate)

        def validate(compiled: Any, batches: Any) -> float:
            metric = task.new_metric()
            for batch in batches:
                _, targets = task.prepare_batch(batch, baseline.input_spec)
                results = compiled(_feeds(task, batch, compiled.inputs, baseline))
                metric.update([torch.from_numpy(np.array(results[port])) for port in compiled.outputs], targets)
            return float(metric.compute()[task.primary_metric])

        with _nncf_off_stdout():
            quantized = nncf.quantize_with_accuracy_control(
                model,
                dataset,
                nncf.Dataset(val_loader),
                validate,
                max_drop=max_accuracy_drop / 100.0,
                drop_type=nncf.DropType.ABSOLUTE,
                **options,
            )
    extra = {"precision": "int8", "quantization": {"method": "nncf", "accuracy_control": max_accuracy_drop is not None}}
    return save_openvino_ir(quantized, baseline, target, extra)


def faster_on_openvino(
    qdq: ModelHandle, nncf: ModelHandle, batch_sizes: tuple[int, ...], accuracy_control: bool
) -> OpenVinoInt8:
    """Both int8 files timed against each other on OpenVINO in alternating rounds at every batch size; NNCF's
    is kept only if it is faster by the median (a tie keeps the Q/DQ file, which onnxruntime runs too)."""
    assert qdq.onnx_path is not None and nncf.onnx_path is not None
    task = get_task(qdq.task)
    sizes = (task.fixed_batch_size,) if task.fixed_batch_size else batch_sizes
    batches = [task.example_inputs(qdq.input_spec, size) for size in sizes]
    ratios = round_ratios(qdq.onnx_path, nncf.onnx_path, batches, HEAD_TO_HEAD_ROUNDS, OpenVinoRunner)
    speedup = statistics.median(ratios)
    kept = NNCF if speedup > 1.0 else QDQ
    candidates = {QDQ: qdq.onnx_path.name, NNCF: nncf.onnx_path.name}
    return OpenVinoInt8(kept, nncf if kept == NNCF else qdq, candidates, speedup, ratios, accuracy_control)


def openvino_int8(
    baseline: ModelHandle, bundle: DatasetBundle, qdq: ModelHandle, request: Int8Request, target: Path
) -> OpenVinoInt8:
    """The int8 model the openvino rows run: the Q/DQ file `qdq`, or NNCF's IR of the baseline written to
    `target` where it is faster head to head (`target` is removed otherwise), held to the request's budget
    on the samples our budget check scores. `--exclude` names ONNX nodes, which NNCF cannot be held to: the
    Q/DQ file is then kept untimed."""
    assert qdq.onnx_path is not None
    if request.exclude:
        info("int8 for openvino: --exclude names ONNX nodes NNCF does not see; the Q/DQ file runs on openvino too")
        return OpenVinoInt8(QDQ, qdq, {QDQ: qdq.onnx_path.name})
    try:
        import_nncf()
    except MissingDependencyError as error:
        warn(f"int8 for openvino: {error}; the Q/DQ file runs on openvino, untimed against NNCF's")
        return OpenVinoInt8(QDQ, qdq, {QDQ: qdq.onnx_path.name})
    budget = request.max_accuracy_drop
    val = Scorer(baseline, bundle, request.max_samples).val if budget is not None else None
    nncf_model = nncf_int8(baseline, bundle, request.calib_samples, target, budget, val)
    info("int8 for openvino: timing the Q/DQ file against NNCF's head to head")
    chosen = faster_on_openvino(qdq, nncf_model, request.batch_sizes, budget is not None)
    if chosen.kept == QDQ:
        target.unlink()
        target.with_suffix(".bin").unlink()
    info(chosen.sentence())
    return chosen
