"""int8 ONNX models through onnxruntime's quantizer, with the choices that are fast on the target.

The library's defaults (int8 activations, per-tensor weights, no pre-processing) leave most of the
speed on the table on x86: there the fast kernels take uint8 activations with int8 weights (VNNI),
per-channel weights keep accuracy, and shape inference plus graph fusion first lets the quantizer
see whole Conv+BN+ReLU blocks. Those are our defaults; every run measures the result against fp32.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
)
from onnxruntime.quantization.calibrate import TensorsData, create_calibrator
from onnxruntime.quantization.shape_inference import quant_pre_process

from compressor.core.errors import ExportError, UnknownNameError, brief
from compressor.methods.calibration import DatasetCalibrationReader
from compressor.methods.entropy_threshold import use_fast_entropy_threshold
from compressor.methods.ort_ranges import load_ranges, quantize_static_from_ranges, save_ranges
from compressor.methods.sensitivity import WEIGHTED_OP_TYPES
from compressor.methods.shared_dequantization import share_dequantization
from compressor.models.onnx_graph import converted_to_opset, onnx_opset

CALIBRATION_METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}
QUANT_TYPES = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
# Dynamic quantization pays off on the weight-heavy products of Transformers and nowhere else.
DYNAMIC_OP_TYPES = ("MatMul", "Gemm")
QUANTIZATION_OPSET = 13  # DequantizeLinear's per-channel axis
# Kernels that compute on integers themselves (dynamic int8 and onnxruntime's QOperator form).
INTEGER_OP_TYPES = ("MatMulInteger", "ConvInteger", "DynamicQuantizeMatMul", "QLinearConv", "QLinearMatMul")


@dataclass(frozen=True)
class Int8Settings:
    """How to quantize: the defaults are the fast choices for x86 CPUs (see the module docstring)."""

    method: str = "static"  # "static" (calibrated activations) or "dynamic" (ranges computed at run time)
    calibration: str = "minmax"
    per_channel: bool = True
    activation_type: str = "uint8"
    weight_type: str = "int8"
    op_types: tuple[str, ...] | None = None  # None: every op type the quantizer knows
    exclude: tuple[str, ...] = field(default=())  # node names or op types kept in float
    shared_dequantization: bool = False  # see `shared_dequantization`; the speed tuner decides
    symmetric_activations: bool = False  # zero-point-0 activations, the only kind TensorRT takes
    # TensorRT's weights: biases left in float (no TensorRT takes an int32 DequantizeLinear) and float
    # weights behind a QuantizeLinear/DequantizeLinear pair (TensorRT 8.x takes no int8 initializer)
    tensorrt_weights: bool = False
    # Op types whose outputs get no Q/DQ pair (onnxruntime's OpTypesToExcludeOutputQuantization). TensorRT
    # quantizes the inputs of weighted layers; a pair on their outputs made the logits and a detector's
    # heads 8-bit in the engine.
    unquantized_output_op_types: tuple[str, ...] = ()

    @property
    def quantized_op_types(self) -> tuple[str, ...] | None:
        """The op types the quantizer may touch (None: every one it knows)."""
        return self.op_types or (DYNAMIC_OP_TYPES if self.method == "dynamic" else None)


@contextlib.contextmanager
def _quiet() -> contextlib.AbstractContextManager[None]:  # type: ignore[misc]
    """onnxruntime's quantization tools print to stdout, which carries our results only, and warn on
    stderr about what we handle ourselves (per-channel axes of 1-D weights, the NaN scale of an
    unbounded tensor whose nodes stay in float); none of it is for our users."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


@contextlib.contextmanager
def _inside(folder: Path) -> contextlib.AbstractContextManager[None]:  # type: ignore[misc]
    """Run with `folder` as the working directory: onnxruntime drops debug files into it."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def preprocess(source: Path, target: Path) -> None:
    """Shape inference and onnxruntime's graph optimisation (fusion), as its quantization guide asks.

    Symbolic shape inference fails on some graphs (detectors' data-dependent shapes); ONNX's own
    shape inference is then enough for the quantizer. When it fails, onnxruntime saves the half-inferred
    model (a full copy of the weights) into the working directory, so it runs inside a scratch folder.
    """
    source, target = source.resolve(), target.resolve()
    source = _with_quantization_opset(source, target)
    with _quiet():
        try:
            with tempfile.TemporaryDirectory(prefix="compressor-shape-infer-") as scratch, _inside(Path(scratch)):
                quant_pre_process(str(source), str(target))
        except Exception:  # noqa: BLE001  (the symbolic pass raises assorted errors on graphs it cannot follow)
            try:
                quant_pre_process(str(source), str(target), skip_symbolic_shape=True)
            except Exception as error:  # noqa: BLE001
                raise ExportError(f"onnxruntime's quantization pre-processing failed: {brief(error)}") from error


def _with_quantization_opset(source: Path, target: Path) -> Path:
    """`source`, or where its opset is older than per-channel int8 needs (a file from elsewhere, exported at
    opset 11), a copy beside `target` converted by ONNX's version converter: onnxruntime writes per-channel
    DequantizeLinear nodes, which take an axis from opset 13 on, into any graph, and the result would not load."""
    model = onnx.load(str(source))
    opset = onnx_opset(model)
    if opset is None or opset >= QUANTIZATION_OPSET:
        return source
    upgraded = target.with_name(f"{target.stem}.opset{QUANTIZATION_OPSET}.onnx")
    try:
        return converted_to_opset(model, QUANTIZATION_OPSET, upgraded)
    except Exception as error:  # noqa: BLE001  (the converter raises its own types per operator)
        message = f"opset {opset} could not be converted to {QUANTIZATION_OPSET} for int8: {brief(error)}"
        raise ExportError(message) from error


def node_names(model_path: Path) -> dict[str, str]:
    """Every node of the graph: name -> op type."""
    model = onnx.load(str(model_path), load_external_data=False)
    return {node.name: node.op_type for node in model.graph.node}


def post_processing_nodes(model_path: Path) -> list[str]:
    """Nodes from which no weighted op (a layer with weights) can be reached: a detector's box decoding,
    score thresholds and NMS. Everything upstream of a weighted op (input normalisation, the backbone,
    the heads' layers and what joins them) is the network int8 may take whole; what comes after the
    last layers turns boxes into coordinates and needs float precision."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    producers = {output: node for node in graph.node for output in node.output}
    weights = {init.name for init in graph.initializer}
    network: set[str] = set()
    pending = [node for node in graph.node if node.op_type in WEIGHTED_OP_TYPES and weights.intersection(node.input)]
    while pending:
        node = pending.pop()
        if node.name not in network:
            network.add(node.name)
            pending += [producers[name] for name in node.input if name in producers]
    return [node.name for node in graph.node if node.name not in network]


def int8_node_count(model_path: Path) -> int:
    """Nodes fed by a DequantizeLinear (QDQ graphs) or running integer kernels (dynamic int8). Zero means
    nothing runs in int8: `--exclude` and the speed tuner kept every op in float."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    dequantized = {node.output[0] for node in graph.node if node.op_type == "DequantizeLinear"}
    return sum(
        1
        for node in graph.node
        if node.op_type in INTEGER_OP_TYPES
        or (node.op_type not in ("QuantizeLinear", "DequantizeLinear") and dequantized.intersection(node.input))
    )


def resolve_exclusions(model_path: Path, patterns: tuple[str, ...]) -> list[str]:
    """Node names for `--exclude` entries, each a node name or an op type; an unknown entry is an error."""
    nodes = node_names(model_path)
    op_types = set(nodes.values())
    names: list[str] = []
    for pattern in patterns:
        if pattern in nodes:
            names.append(pattern)
        elif pattern in op_types:
            names += [name for name, op_type in nodes.items() if op_type == pattern]
        else:
            close = difflib.get_close_matches(pattern, [*op_types, *nodes], n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; op types here: {', '.join(sorted(op_types))}"
            raise UnknownNameError(f"--exclude {pattern!r} is neither a node name nor an op type of the model{hint}")
    return sorted(set(names))


def calibrate(source: Path, reader: DatasetCalibrationReader, settings: Int8Settings, ranges: Path) -> None:
    """Collect activation ranges with `settings.calibration` and save them to `ranges` (`ort_ranges`).

    Histogram methods run after a min/max pass, whose ranges two kinds of tensor keep: those with no finite
    range (an attention mask's -inf; `unbounded_nodes` keeps them in float), and Clip (ReLU6) outputs,
    bounded by design, whose range a histogram method would cut too far.
    """
    with tempfile.TemporaryDirectory(prefix="compressor-calibrate-") as scratch, _quiet():
        try:
            data = _collect(source, reader, "minmax", settings.op_types, Path(scratch))
            if settings.calibration != "minmax":
                bounded = _clip_outputs(source)
                kept = {
                    name: value for name, value in data.items() if name in bounded or not _finite(value.range_value)
                }
                histograms = _collect(source, reader, settings.calibration, settings.op_types, Path(scratch), kept)
                data = TensorsData(histograms.calibration_method, {**kept, **histograms.data})
            save_ranges(data, ranges)
        except (ValueError, RuntimeError, KeyError) as error:
            raise ExportError(f"int8 calibration failed: {brief(error)}") from error


def _clip_outputs(source: Path) -> set[str]:
    graph = onnx.load(str(source), load_external_data=False).graph
    return {node.output[0] for node in graph.node if node.op_type == "Clip"}


class _OneBatch(CalibrationDataReader):
    """A reader holding a single batch, so onnxruntime's calibrator takes the data batch by batch."""

    def __init__(self, batch: dict[str, np.ndarray]) -> None:
        self._batch: dict[str, np.ndarray] | None = batch

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch, self._batch = self._batch, None
        return batch


def _collect(
    source: Path,
    reader: DatasetCalibrationReader,
    method: str,
    op_types: tuple[str, ...] | None,
    scratch: Path,
    skip: Collection[str] = (),
) -> TensorsData:
    """One calibration pass over `reader` with `method`, leaving out the tensors in `skip`.

    Batches go in one per call: onnxruntime's calibrators keep every batch's outputs (and its histogram
    ones fail on text batches of different lengths). We create the calibrator ourselves to give entropy
    TensorRT's 2048 bins for a 128-bin window: `quantize_static`'s default always picks min/max.
    """
    calibrator = create_calibrator(
        source,
        list(op_types) if op_types else [],
        augmented_model_path=str(scratch / f"augmented.{method}.onnx"),
        calibrate_method=CALIBRATION_METHODS[method],
        extra_options={"num_bins": 2048, "num_quantized_bins": 128} if method == "entropy" else {},
    )
    if skip:  # histogram calibrators only
        calibrator.tensors_to_calibrate -= set(skip)
    reader.rewind()
    while (batch := reader.get_next()) is not None:
        calibrator.collect_data(_OneBatch(batch))
    if method == "entropy" and calibrator.collector is not None:
        use_fast_entropy_threshold(calibrator.collector)
    return calibrator.compute_data()


def _finite(values: tuple[np.ndarray, np.ndarray]) -> bool:
    return bool(np.all(np.isfinite(np.asarray(values, dtype=np.float64))))


def unbounded_nodes(source: Path, ranges: Path) -> list[str]:
    """Nodes that read or write a tensor whose calibrated range is not finite (an attention mask's -inf).
    int8 cannot hold it: onnxruntime would compute a NaN scale and wreck the model."""
    unbounded = {name for name, data in load_ranges(ranges).items() if not _finite(data.range_value)}
    graph = onnx.load(str(source), load_external_data=False).graph
    return [node.name for node in graph.node if unbounded & {*node.input, *node.output}]


def _with_gemm_renames(names: list[str], gemms: set[str]) -> list[str]:
    """`names` plus the name each Gemm among them gets in dynamic int8: onnxruntime's dynamic quantizer
    first rewrites every Gemm as a MatMul named NAME_MatMul (and an Add), then matches the node lists
    against the new names, so a Gemm excluded by its own name would be quantized all the same."""
    return names + [f"{name}_MatMul" for name in names if name in gemms]


def quantize_int8(
    source: Path,
    target: Path,
    settings: Int8Settings,
    exclude_nodes: list[str],
    ranges: Path | None = None,
    only_nodes: list[str] | None = None,
) -> None:
    """Write the int8 model for `source` (already pre-processed) to `target`.

    Static quantization reads the activation `ranges` written by `calibrate`, so re-quantizing with
    more layers in float (the accuracy-budget fallback) does not calibrate again; the ranges belong
    to one run and are never shared between runs. `only_nodes` limits int8 to those nodes.
    """
    weight_type = QUANT_TYPES[settings.weight_type]
    try:
        with _quiet():
            if settings.method == "dynamic":
                gemms = {name for name, op_type in node_names(source).items() if op_type == "Gemm"}
                quantize_dynamic(
                    str(source),
                    str(target),
                    op_types_to_quantize=list(settings.quantized_op_types),  # type: ignore[arg-type]
                    per_channel=settings.per_channel,
                    weight_type=weight_type,
                    nodes_to_quantize=only_nodes and _with_gemm_renames(only_nodes, gemms),
                    nodes_to_exclude=_with_gemm_renames(exclude_nodes, gemms),
                )
                return
            if ranges is None:
                raise ValueError("static quantization needs calibrated ranges")
            exclude_nodes = sorted({*exclude_nodes, *unbounded_nodes(source, ranges)})
            quantize_static_from_ranges(
                source,
                target,
                ranges,
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(settings.op_types) if settings.op_types else None,
                per_channel=settings.per_channel,
                activation_type=QUANT_TYPES[settings.activation_type],
                weight_type=weight_type,
                nodes_to_quantize=only_nodes,
                nodes_to_exclude=exclude_nodes,
                calibrate_method=CALIBRATION_METHODS[settings.calibration],
                extra_options={
                    "ActivationSymmetric": settings.symmetric_activations,
                    "WeightSymmetric": True,
                    "QuantizeBias": not settings.tensorrt_weights,
                    "AddQDQPairToWeight": settings.tensorrt_weights,
                    "OpTypesToExcludeOutputQuantization": list(settings.unquantized_output_op_types),
                },
            )
            if settings.shared_dequantization:
                share_dequantization(target, target)
    except (ValueError, RuntimeError, KeyError, onnx.onnx_cpp2py_export.checker.ValidationError) as error:
        raise ExportError(f"int8 quantization failed: {brief(error)}") from error
