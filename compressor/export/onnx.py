"""Export to ONNX with a dynamic batch axis, check it, and prove it computes what torch computes."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import onnx
import torch

from compressor.errors import ExportError, InputFileError, brief
from compressor.export.export_cache import ExportCache, export_key
from compressor.export.foreign_onnx import foreign_onnx_handle
from compressor.export.onnx_graph import fed_inputs, onnx_opset
from compressor.footprint import METADATA_FIELD, torch_footprint
from compressor.fsutil import atomic_path
from compressor.models.handle import InputSpec, ModelHandle
from compressor.models.precision import onnx_graph_precision
from compressor.runtime.base import Runner
from compressor.tasks import Task, get_task

DEFAULT_OPSET = 18
METADATA_KEY = "compressor"
PARITY_TOLERANCE = 1e-4
_OP_PATTERN = re.compile(r"(aten[:.]{1,2}[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?|prim::[A-Za-z0-9_]+)")


@dataclass
class ParityResult:
    """How closely the exported model matches torch on the same inputs."""

    max_abs_diff: float
    agreement: float  # fraction of samples with the same prediction (top-1 for classifiers)
    samples: int

    @property
    def within_tolerance(self) -> bool:
        return self.max_abs_diff <= PARITY_TOLERANCE

    def summary(self) -> str:
        return (
            f"max abs diff {self.max_abs_diff:.2e}, prediction agreement {self.agreement:.2%} on {self.samples} samples"
        )


_EXPORTS = ExportCache()


@contextlib.contextmanager
def _quiet_output() -> Iterator[None]:
    """The exporters print graphs and diagnostics to stdout and stderr (also from C++, straight to the file
    descriptors); keep the terminal readable: our own error line says what failed."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with open(os.devnull, "w") as devnull:
        for fd in saved:
            os.dup2(devnull.fileno(), fd)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                yield
        finally:
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)


def _run_exporter(module: torch.nn.Module, inputs: list[torch.Tensor], target: Path, task: Task, opset: int) -> str:
    """Try the dynamo exporter, then the TorchScript one; return the name of the one that worked.

    The task names the inputs and outputs and which of their axes are dynamic (batch, sequence, ...).
    """
    axes = task.dynamic_axes()
    dims = {name: torch.export.Dim(name, min=1) for per_tensor in axes.values() for name in per_tensor.values()}
    dynamic_shapes = tuple(
        {axis: dims[name] for axis, name in axes.get(input_name, {}).items()} for input_name in task.input_names
    )
    errors: list[str] = []
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("dynamo", {"dynamo": True, "dynamic_shapes": dynamic_shapes, "external_data": False}),
        ("torchscript", {"dynamo": False, "dynamic_axes": axes}),
    ]
    for exporter, options in attempts:
        try:
            with warnings.catch_warnings(), _quiet_output():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    module,
                    tuple(inputs),
                    str(target),
                    input_names=list(task.input_names),
                    output_names=list(task.output_names),
                    opset_version=opset,
                    **options,
                )
        except Exception as error:  # noqa: BLE001  (the exporters raise many unrelated types)
            errors.append(str(error))
            continue
        written = _default_opset(target)
        if written == opset:
            return exporter
        errors.append(f"the {exporter} exporter wrote opset {written}, not the {opset} asked for")
    ops = sorted({match for text in errors for match in _OP_PATTERN.findall(text)})
    culprit = f" (operator {', '.join(ops[:3])})" if ops else ""
    last = brief(errors[-1]) if errors else "unknown error"
    raise ExportError(f"ONNX export failed{culprit}: {last}")


def _export_once(module: torch.nn.Module, inputs: list[torch.Tensor], target: Path, task: Task, opset: int) -> str:
    """`_run_exporter`, or a copy of the file an identical model was exported to earlier in this process."""
    key = export_key(module, inputs, task.name, opset)
    exporter = _EXPORTS.restore(key, target)
    if exporter is None:
        exporter = _run_exporter(module, inputs, target, task, opset)
        _EXPORTS.store(key, target, exporter)
    return exporter


def _default_opset(path: Path) -> int | None:
    """The ai.onnx opset a file declares (the dynamo exporter writes 18 even when asked for 17)."""
    return onnx_opset(onnx.load(str(path), load_external_data=False))


def run_in_chunks(runner: Runner, inputs: list[torch.Tensor], chunk: int | None) -> list[torch.Tensor]:
    """Run a batch through a model whose graph takes only `chunk` samples at a time (None: any batch)."""
    if chunk is None:
        return runner.run(inputs)
    parts = [runner.run([t[i : i + chunk] for t in inputs]) for i in range(0, int(inputs[0].shape[0]), chunk)]
    return [torch.cat(outputs) for outputs in zip(*parts, strict=True)]


def check_parity(handle: ModelHandle, onnx_path: Path, inputs: list[torch.Tensor]) -> ParityResult:
    """Run the same batch through torch and onnxruntime and compare every output."""
    from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner
    from compressor.runtime.torch_runner import TorchRunner

    chunk = get_task(handle.task).fixed_batch_size
    reference = run_in_chunks(TorchRunner(handle.module), inputs, chunk)  # type: ignore[arg-type]
    candidate = run_in_chunks(OnnxRuntimeRunner(onnx_path), inputs, chunk)
    if len(reference) != len(candidate):
        raise ExportError(f"the ONNX model has {len(candidate)} outputs, torch gives {len(reference)}")
    max_diff, agreement = get_task(handle.task).parity(reference, candidate)
    return ParityResult(max_abs_diff=max_diff, agreement=agreement, samples=int(inputs[0].shape[0]))


def export_onnx(
    handle: ModelHandle, path: str | Path, parity_inputs: list[torch.Tensor] | None = None, opset: int = DEFAULT_OPSET
) -> tuple[ModelHandle, ParityResult]:
    """Export `handle` to `path`; the file appears only once it is checked and its parity measured."""
    if handle.module is None:
        raise ExportError(f"{handle.name} is already an ONNX model")
    path = Path(path)
    task = get_task(handle.task)
    module = copy.deepcopy(handle.module).eval()
    parity_inputs = parity_inputs or task.example_inputs(handle.input_spec, 8)
    with atomic_path(path) as tmp:
        trace_inputs = task.example_inputs(handle.input_spec, task.fixed_batch_size or 2)
        exporter = _export_once(module, trace_inputs, tmp, task, opset)
        model = onnx.load(str(tmp))
        try:
            onnx.checker.check_model(model, full_check=True)
        except onnx.checker.ValidationError as error:
            raise ExportError(f"the exported ONNX model fails onnx.checker: {brief(error)}") from error
        parity = check_parity(handle, tmp, parity_inputs)
        metadata = {**handle.describe(), "exporter": exporter, "opset": opset, "parity": asdict(parity)}
        metadata[METADATA_FIELD] = torch_footprint(handle).counts()  # benchmarked alone, it still has MACs
        onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(metadata)})
        onnx.save(model, str(tmp))
    exported = ModelHandle(
        name=handle.name,
        task=handle.task,
        input_spec=handle.input_spec,
        class_names=list(handle.class_names),
        onnx_path=path,
        source=str(path),
        weights=handle.weights,
        metadata=metadata,
    )
    return exported, parity


def _stored_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Initializers and constant attributes, subgraphs (If, Loop) included."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _stored_tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _stored_tensors(subgraph)


def check_external_data(model: onnx.ModelProto, path: Path) -> None:
    """Refuse tensors stored outside the model's folder: a downloaded model must not make us read (and
    maybe report or copy) arbitrary files such as ../../home/user/.ssh/id_rsa."""
    folder = path.resolve().parent
    for tensor in _stored_tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((entry.value for entry in tensor.external_data if entry.key == "location"), "")
        target = (folder / location).resolve()
        if not target.is_relative_to(folder):
            raise InputFileError(
                f"{path}: tensor {tensor.name!r} keeps its data at {location!r}, outside the model's folder; refused"
            )
        if not target.is_file():
            raise InputFileError(f"{path}: external data file {location!r} of tensor {tensor.name!r} is missing")


def read_onnx_handle(path: str | Path, image_size: tuple[int, int] | None = None) -> ModelHandle:
    """An ONNX file as a handle: our metadata when present, otherwise what the graph itself says (a dynamic
    height and width taking `image_size`)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"ONNX file not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001  (protobuf raises its own DecodeError types)
        raise InputFileError(f"{path} is not a readable ONNX model (truncated or corrupt?): {brief(error)}") from error
    check_external_data(model, path)
    props = {prop.key: prop.value for prop in model.metadata_props}
    if METADATA_KEY in props:
        meta = json.loads(props[METADATA_KEY])
        if "precision" not in meta:  # baseline exports and files written before precision was recorded
            meta["precision"] = onnx_graph_precision(model)
        return ModelHandle(
            name=meta["name"],
            task=meta["task"],
            input_spec=InputSpec.from_dict(meta["input_spec"]),
            class_names=list(meta["class_names"]),
            onnx_path=path,
            source=str(path),
            weights=meta.get("weights", ""),
            metadata=meta,
        )
    return foreign_onnx_handle(model, path, image_size)


def static_batch_size(path: Path) -> int | None:
    """The batch size an ONNX graph is fixed to (a Jetson bundle's, many downloaded files'), or None
    when its batch axis is dynamic."""
    fed = fed_inputs(onnx.load(str(path), load_external_data=False))
    dims = list(fed[0].type.tensor_type.shape.dim) if fed else []
    return int(dims[0].dim_value) if dims and dims[0].HasField("dim_value") and dims[0].dim_value > 0 else None
