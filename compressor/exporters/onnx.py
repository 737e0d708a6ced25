"""Export to ONNX with a dynamic batch axis, check it, and prove it computes what torch computes."""

from __future__ import annotations

import copy
import json
import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import onnx
import torch

from compressor.core.errors import ExportError, brief
from compressor.core.files import atomic_path
from compressor.core.handle import ModelHandle
from compressor.core.progress import quiet_output
from compressor.data import DatasetBundle
from compressor.data.loader import data_loader
from compressor.exporters.export_cache import ExportCache, export_key
from compressor.measurement.footprint import METADATA_FIELD, torch_footprint
from compressor.models.onnx_file import METADATA_KEY
from compressor.models.onnx_graph import onnx_opset
from compressor.runtime.base import Runner
from compressor.tasks import Task, get_task

DEFAULT_OPSET = 18
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
            with warnings.catch_warnings(), quiet_output():
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

    return runners_parity(handle.task, TorchRunner(handle.module), OnnxRuntimeRunner(onnx_path), inputs)  # type: ignore[arg-type]


def runners_parity(task_name: str, reference: Runner, candidate: Runner, inputs: list[torch.Tensor]) -> ParityResult:
    """The same batch through two runners of one model, every output compared."""
    task = get_task(task_name)
    expected = run_in_chunks(reference, inputs, task.fixed_batch_size)
    got = run_in_chunks(candidate, inputs, task.fixed_batch_size)
    if len(expected) != len(got):
        raise ExportError(f"the exported model has {len(got)} outputs, the source gives {len(expected)}")
    max_diff, agreement = task.parity(expected, got)
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


PARITY_SAMPLES = 32


def parity_batch(handle: ModelHandle, bundle: DatasetBundle) -> list[torch.Tensor]:
    """A real val batch for the export parity check (random inputs hide saturation and NaN issues)."""
    task = get_task(handle.task)
    loader = data_loader(
        bundle.split("val", handle.input_spec),
        PARITY_SAMPLES,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        collate_fn=task.collate,
    )
    inputs, _ = task.prepare_batch(next(iter(loader)), handle.input_spec)
    return inputs
