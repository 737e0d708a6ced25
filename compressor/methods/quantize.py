"""`compress quantize`: a float ONNX model in, an int8 or fp16 ONNX model (and torch fp16/bf16) out.

int8 keeps an accuracy budget when asked: if the quantized model loses more than
`max_accuracy_drop` points, the layers whose int8 error is largest go back to float one at a time
until it holds, and the best model found so far is always the one on disk.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import onnx
import torch
from pydantic import PositiveInt
from torch.utils.data import Dataset

from compressor.core.errors import OptionError
from compressor.core.files import atomic_path
from compressor.core.handle import ModelHandle
from compressor.core.progress import info, warn
from compressor.data import calibration_split
from compressor.data.base import DatasetBundle, deterministic_subset
from compressor.measurement.evaluate import evaluate
from compressor.methods.batchnorm_as_conv import batchnorms_as_convs
from compressor.methods.calibration import DatasetCalibrationReader
from compressor.methods.concat_ranges import share_concat_ranges
from compressor.methods.configs import Int8, Quantize
from compressor.methods.half import convert_onnx_fp16
from compressor.methods.onnx_int8 import (
    Int8Settings,
    calibrate,
    int8_node_count,
    node_names,
    post_processing_nodes,
    preprocess,
    quantize_int8,
    resolve_exclusions,
)
from compressor.methods.sensitivity import WEIGHTED_OP_TYPES, LayerSensitivity, measure_sensitivity
from compressor.methods.speed_tune import GroupTrial, tune_for_speed
from compressor.models.onnx_file import METADATA_KEY, static_batch_size
from compressor.models.onnx_graph import fed_input_dtypes, fed_input_names
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner
from compressor.runtime.openvino_runner import OpenVinoRunner
from compressor.tasks import get_task
from compressor.tasks.base import Task

SENSITIVITY_BATCHES = 8
PRECISIONS = ("int8", "fp16", "bf16")
# Quantized for TensorRT: the inputs of its int8 kernels. Q/DQ around other ops only adds reformatting.
TENSORRT_OP_TYPES = WEIGHTED_OP_TYPES


class Int8Request(Int8):
    """int8's options (`configs.Int8`) with what the run around it decides: the samples its budget check
    scores, the batch sizes its speed is tuned for, and the runtime it quantizes for."""

    max_samples: PositiveInt | None = None  # val samples scored by the budget check
    batch_sizes: tuple[PositiveInt, ...] = (1, 16)
    # "onnxruntime": fast on this CPU (uint8 activations, tuned on onnxruntime). "openvino": the same, tuned
    # on OpenVINO. "tensorrt": what TensorRT builds int8 engines from (explicit Q/DQ, symmetric int8, weighted
    # ops only; no CPU tuning, it would time the wrong chip).
    target: Literal["onnxruntime", "openvino", "tensorrt"] = "onnxruntime"

    @classmethod
    def of(cls, config: Quantize, **run: Any) -> Int8Request:
        """`config`'s options with the run's (`max_samples`, `batch_sizes`, `target`)."""
        return cls(**config.model_dump(exclude={"precision", "backends"}), **run)


def tuning_target(backends: list[str] | None) -> Literal["onnxruntime", "openvino"]:
    """Where the speed tuner times a Q/DQ file measured on `backends`: OpenVINO where it is the only runtime
    of the file asked for, else onnxruntime (OpenVINO then also gets NNCF's int8, the faster kept)."""
    return "openvino" if backends and "openvino" in backends and "onnxruntime" not in backends else "onnxruntime"


@dataclass
class Int8Outcome:
    handle: ModelHandle
    settings: Int8Settings
    excluded: list[str]  # nodes kept in float at the user's request
    post_processing: list[str] = field(default_factory=list)  # after the last weighted layers, kept in float
    speed_kept: list[str] = field(default_factory=list)  # nodes kept in float because int8 was slower there
    speed_trials: list[GroupTrial] = field(default_factory=list)
    kept_float: list[LayerSensitivity] = field(default_factory=list)  # returned to float by the budget
    sensitivity: list[LayerSensitivity] = field(default_factory=list)
    baseline_metric: float | None = None
    metric: float | None = None
    int8_nodes: int | None = None  # `int8_node_count` of the written model (0: it computes as the float model)
    batchnorms_as_convs: int = 0  # standalone BatchNormalizations quantized as 1x1 depthwise Convs
    concats_sharing_ranges: int = 0  # Concats whose inputs and output share one range (`concat_ranges`)

    @property
    def settled_float(self) -> list[str]:
        """Nodes in float before the accuracy budget is consulted: asked for, post-processing, slower in int8."""
        return self.excluded + self.post_processing + self.speed_kept

    @property
    def float_nodes(self) -> list[str]:
        """Every node kept in float: the settled ones and those returned to float by the budget."""
        return self.settled_float + [layer.name for layer in self.kept_float]

    def summary(self) -> dict[str, object]:
        """The `quantization` block of the report."""
        return {
            "method": self.settings.method,
            "calibration": self.settings.calibration if self.settings.method == "static" else None,
            "per_channel": self.settings.per_channel,
            "activation_type": self.settings.activation_type if self.settings.method == "static" else "dynamic",
            "weight_type": self.settings.weight_type,
            "shared_dequantization": self.settings.shared_dequantization,
            "op_types": list(self.settings.op_types) if self.settings.op_types else "all supported",
            "excluded": self.excluded,
            "post_processing_in_float": len(self.post_processing),
            "int8_nodes": self.int8_nodes,
            "batchnorms_as_convs": self.batchnorms_as_convs,
            "concats_sharing_ranges": self.concats_sharing_ranges,
            "speed_trials": [trial.to_dict() for trial in self.speed_trials],
            "kept_float": [layer.to_dict() for layer in self.kept_float],
            "sensitivity": [layer.to_dict() for layer in self.sensitivity],
        }


def stamp(source: Path, target: Path, baseline: ModelHandle, extra: dict[str, object]) -> ModelHandle:
    """Copy `source` to `target` with the baseline's metadata (so it reloads by path) plus `extra`."""
    model = onnx.load(str(source))
    metadata = {**baseline.metadata, **baseline.describe(), **extra}
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(metadata)})
    with atomic_path(target) as tmp:
        onnx.save(model, str(tmp))
    return dataclasses.replace(baseline, module=None, onnx_path=target, source=str(target), metadata=metadata)


def fp16_onnx(baseline: ModelHandle, target: Path, scratch: Path) -> tuple[ModelHandle, list[str]]:
    """An fp16 ONNX copy of the baseline, IO in float32; also returns the op types kept in float32."""
    assert baseline.onnx_path is not None
    converted = scratch / "fp16.onnx"
    kept = convert_onnx_fp16(baseline.onnx_path, converted)
    return stamp(converted, target, baseline, {"precision": "fp16", "kept_float32_ops": kept}), kept


class Scorer:
    """The primary metric of an ONNX file on the val split (scored against the baseline where the task is)."""

    def __init__(self, baseline: ModelHandle, bundle: DatasetBundle, max_samples: int | None) -> None:
        assert baseline.onnx_path is not None
        self.task = get_task(baseline.task)
        self.spec = baseline.input_spec
        self.val: Dataset = deterministic_subset(bundle.split("val", self.spec), max_samples)
        if self.task.scored_against_baseline:
            runner = OnnxRuntimeRunner(baseline.onnx_path)
            self.val = self.task.scoring_set(self.val, runner, self.spec)
            runner.close()

    def __call__(self, model: Path, label: str) -> float:
        runner = OnnxRuntimeRunner(model)
        try:
            return evaluate(runner, self.task, self.val, self.spec, label=label)[self.task.primary_metric]
        finally:
            runner.close()


def _sensitivity_batches(reader: DatasetCalibrationReader, input_names: list[str]) -> list[list[torch.Tensor]]:
    reader.rewind()
    batches = []
    for _ in range(SENSITIVITY_BATCHES):
        feed = reader.get_next()
        if feed is None:
            break
        batches.append([torch.from_numpy(feed[name]) for name in input_names])
    return batches


def int8_method(request: Int8Request, task: Task) -> str:
    """static or dynamic for this request. A calibration asked of dynamic int8 is refused, not ignored:
    a user who picked entropy ranges should not get a report that silently used none."""
    method = "static" if request.target == "tensorrt" else request.method or task.default_int8_method
    if method == "dynamic" and request.calibration != "minmax":
        why = "--method dynamic" if request.method else f"{task.name} models default to dynamic int8"
        raise OptionError(
            f"--calibration {request.calibration} sets static int8's activation ranges, but {why} "
            "(ranges computed at run time); add --method static"
        )
    return method


def quantize_onnx_int8(
    baseline: ModelHandle, bundle: DatasetBundle, request: Int8Request, target: Path, scratch: Path
) -> Int8Outcome:
    """Pre-process, calibrate, quantize; then, if a budget is set, return layers to float until it holds."""
    assert baseline.onnx_path is not None
    task = get_task(baseline.task)
    for_tensorrt = request.target == "tensorrt"
    method = int8_method(request, task)
    settings = Int8Settings(
        method=method,
        calibration=request.calibration,
        op_types=TENSORRT_OP_TYPES if for_tensorrt else None,
        exclude=request.exclude,
        activation_type="int8" if for_tensorrt else "uint8",
        symmetric_activations=for_tensorrt,
        tensorrt_weights=for_tensorrt,
        unquantized_output_op_types=TENSORRT_OP_TYPES if for_tensorrt else (),
    )
    preprocessed = scratch / "preprocessed.onnx"
    info("int8: onnxruntime pre-processing (shape inference, graph fusion)")
    preprocess(baseline.onnx_path, preprocessed)
    excluded = resolve_exclusions(preprocessed, request.exclude)  # before the rewrite: BatchNormalization is a type
    batchnorms = 0 if for_tensorrt or method == "dynamic" else batchnorms_as_convs(preprocessed)
    if batchnorms:
        info(f"int8: {batchnorms} BatchNormalization(s) no convolution absorbs, quantized as 1x1 depthwise Convs")
    calibration_set = calibration_split(bundle, baseline.input_spec, request.calib_samples)
    fed = fed_input_names(preprocessed)
    # A file from elsewhere: its own input names, and its batch size where the graph fixes one.
    reader = DatasetCalibrationReader(
        calibration_set,
        task,
        baseline.input_spec,
        fed,
        static_batch_size(baseline.onnx_path),
        fed_input_dtypes(preprocessed),
    )
    cache, concats = None, 0  # dynamic int8 computes activation ranges at run time
    if method == "static":
        # onnxruntime's entropy search is slow and silent: say so before it starts
        search = (
            "; then a threshold search, about a second per activation tensor"
            if request.calibration == "entropy"
            else ""
        )
        info(f"int8: calibrating on {len(reader.dataset)} train samples ({request.calibration}{search})")  # type: ignore[arg-type]
        cache = scratch / "calibration.ranges.json"
        calibrate(preprocessed, reader, settings, cache)
        concats = 0 if for_tensorrt else share_concat_ranges(preprocessed, cache)
        if concats:
            info(f"int8: {concats} Concat(s) share one range with their inputs, so int8 concatenation copies bytes")
    post_processing = post_processing_nodes(preprocessed) if task.int8_post_processing_in_float else []
    # The handle is the baseline's until the int8 model is written.
    outcome = Int8Outcome(
        baseline, settings, excluded, post_processing, batchnorms_as_convs=batchnorms, concats_sharing_ranges=concats
    )
    if request.tune_speed and not for_tensorrt:
        batches = [task.example_inputs(baseline.input_spec, size) for size in _tuning_batch_sizes(task, request)]

        def quantize_excluding(nodes: list[str], path: Path) -> None:
            quantize_int8(preprocessed, path, settings, nodes, cache)

        open_runner = OpenVinoRunner if request.target == "openvino" else OnnxRuntimeRunner
        plan = tune_for_speed(
            preprocessed,
            outcome.settled_float,
            quantize_excluding,
            batches,
            scratch,
            settings.quantized_op_types,
            open_runner,
        )
        outcome.speed_kept, outcome.speed_trials = plan.kept_float, plan.trials
        outcome.settings = dataclasses.replace(settings, shared_dequantization=plan.shared_dequantization)
        for trial in outcome.speed_trials:
            rounds = f"{trial.timing.faster_rounds}/{len(trial.timing.ratios)} rounds faster"
            info(f"int8: {trial.label}: {trial.speedup:.2f}x, {rounds}" + (", adopted" if trial.adopted else ""))
    candidate = scratch / "int8.onnx"
    quantize_int8(preprocessed, candidate, outcome.settings, outcome.float_nodes, cache)
    outcome.int8_nodes = int8_node_count(candidate)
    if outcome.int8_nodes == 0:
        warn("int8: --exclude and the speed tuner left no op in int8; the file computes as the float model")
    outcome.handle = stamp(candidate, target, baseline, _metadata(outcome))
    if request.max_accuracy_drop is None:
        return outcome
    score = Scorer(baseline, bundle, request.max_samples)
    outcome.baseline_metric = score(baseline.onnx_path, "fp32 accuracy")
    outcome.metric = score(target, "int8 accuracy")
    if _drop(outcome) <= request.max_accuracy_drop:
        info(f"int8: {task.primary_metric} drop {_drop(outcome):.2f} pt, within {request.max_accuracy_drop} pt")
        return outcome
    return _fall_back_to_float(outcome, preprocessed, reader, request, target, scratch, score, baseline, cache)


def _tuning_batch_sizes(task: Task, request: Int8Request) -> tuple[int, ...]:
    return (task.fixed_batch_size,) if task.fixed_batch_size else request.batch_sizes


def _metadata(outcome: Int8Outcome) -> dict[str, object]:
    """What the int8 file records about itself (reloaded by `compress bench`); post-processing by count only."""
    post_processing = set(outcome.post_processing)
    return {
        "precision": "int8",
        "quantization": {
            "method": outcome.settings.method,
            "float_nodes": [name for name in outcome.float_nodes if name not in post_processing],
            "post_processing_in_float": len(outcome.post_processing),
        },
    }


def _drop(outcome: Int8Outcome) -> float:
    assert outcome.baseline_metric is not None and outcome.metric is not None
    return (outcome.baseline_metric - outcome.metric) * 100.0


def fewest_within_budget(total: int, within: Callable[[int], bool]) -> int | None:
    """The smallest count in 1..total for which `within(count)` holds, if any, taking it to hold from some
    count on (the more sensitive layers in float, the closer to float): double the count until it holds,
    then halve the gap, scoring about 2 log2(total) models instead of one per layer."""
    if total == 0:
        return None
    failing, count = 0, 1
    while not within(count):
        if count == total:
            return None
        failing, count = count, min(2 * count, total)
    passing = count
    while passing - failing > 1:
        middle = (failing + passing) // 2
        if within(middle):
            passing = middle
        else:
            failing = middle
    return passing


def _fall_back_to_float(
    outcome: Int8Outcome,
    preprocessed: Path,
    reader: DatasetCalibrationReader,
    request: Int8Request,
    target: Path,
    scratch: Path,
    score: Scorer,
    baseline: ModelHandle,
    cache: Path | None,
) -> Int8Outcome:
    """Return the most sensitive layers to float, as few as the budget allows (`fewest_within_budget`).
    The best model so far is the one on disk: within the budget, the one with fewest layers in float;
    else the most accurate."""
    budget = request.max_accuracy_drop
    assert budget is not None and outcome.baseline_metric is not None
    settings = outcome.settings
    warn(f"int8 loses {_drop(outcome):.2f} pt (budget {budget} pt): measuring per-layer sensitivity")
    layers = {
        name: op_type
        for name, op_type in node_names(preprocessed).items()
        if op_type in WEIGHTED_OP_TYPES and name not in outcome.float_nodes
    }
    batches = _sensitivity_batches(reader, list(score.task.input_names))

    def quantize_only(name: str, path: Path) -> None:
        quantize_int8(preprocessed, path, settings, [], cache, only_nodes=[name])

    outcome.sensitivity = measure_sensitivity(preprocessed, layers, batches, quantize_only, scratch)
    base_float, baseline_metric = outcome.settled_float, outcome.baseline_metric
    best: tuple[bool, float] = (False, outcome.metric)  # type: ignore[assignment]  (within budget?, then the rank)

    def within(count: int) -> bool:
        kept = outcome.sensitivity[:count]
        candidate = scratch / "fallback.onnx"
        quantize_int8(preprocessed, candidate, settings, base_float + [layer.name for layer in kept], cache)
        metric = score(candidate, f"int8, {count} layer(s) in float")
        info(f"int8 with {count} layer(s) in float: {score.task.primary_metric} {metric:.4f}")
        passes = (baseline_metric - metric) * 100.0 <= budget
        rank = (passes, -count if passes else metric)
        nonlocal best
        if rank > best:
            best, outcome.kept_float, outcome.metric = rank, kept, metric
            outcome.int8_nodes = int8_node_count(candidate)
            outcome.handle = stamp(candidate, target, baseline, _metadata(outcome))
        return passes

    if fewest_within_budget(len(outcome.sensitivity), within) is None:
        warn(f"int8 stays {_drop(outcome):.2f} pt below fp32 with every weighted layer tried in float")
    else:
        info(f"int8: within budget with {len(outcome.kept_float)} layer(s) in float")
    return outcome
