"""Keep in float what int8 does not speed up on this machine, measured rather than assumed.

onnxruntime's x86 kernels do not gain from int8 everywhere: small element-wise ops pay for their
extra quantize/dequantize steps, and depthwise convolutions are memory-bound either way. Which groups
lose depends on the model and the CPU, so each group is tried in float on the target itself and
kept there only when the whole model gets faster.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch

from compressor.bench import time_runner
from compressor.progress import make_progress
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner

# A group returns to float only if the model gets at least this much faster (beyond the timing noise).
MIN_GAIN = 1.05
# Per timing: a short warm-up and a few batches; three alternating rounds per comparison.
TIMING_SECONDS = 0.2
TIMING_ITERATIONS = 5
TIMING_WARMUP = 2
TIMING_ROUNDS = 3
CONV_GROUPS = ("input Conv", "depthwise Conv")
BULK_GROUP = "every op but convolutions and matrix products"


@dataclass(frozen=True)
class GroupTrial:
    group: str
    nodes: list[str]
    speedup: float  # int8 model's time / time with this group also in float (>1: float is faster)
    kept_float: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "group": self.group,
            "nodes": len(self.nodes),
            "speedup": round(self.speedup, 3),
            "kept_float": self.kept_float,
        }


def candidate_groups(
    model_path: Path, exclude: list[str], op_types: tuple[str, ...] | None = None
) -> dict[str, list[str]]:
    """Node groups worth trying in float: the first convolution (three input channels use int8 kernels
    poorly), depthwise convolutions, and each other op type (element-wise ops, pooling, classifier
    Gemm/MatMul). The remaining convolutions are where int8 pays; they are never tried in float.
    With `op_types` (what the quantizer may touch), other op types are float anyway and not tried."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    graph_inputs = {value.name for value in graph.input}
    groups: dict[str, list[str]] = {}
    for node in graph.node:
        if node.name in exclude or (op_types is not None and node.op_type not in op_types):
            continue
        if node.op_type == "Conv":
            if node.input[0] in graph_inputs:
                groups.setdefault("input Conv", []).append(node.name)
            elif next((a.i for a in node.attribute if a.name == "group"), 1) > 1:
                groups.setdefault("depthwise Conv", []).append(node.name)
        elif node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            groups.setdefault(node.op_type, []).append(node.name)
    return groups


def _time(runner: OnnxRuntimeRunner, batches: list[list[torch.Tensor]]) -> float:
    """Product of the p50 latencies at each batch size: one figure that rewards speed at all of them."""
    total = 1.0
    for inputs in batches:
        total *= time_runner(runner, inputs, TIMING_SECONDS, TIMING_ITERATIONS, warmup=TIMING_WARMUP).p50
    return total


def relative_speed(
    reference: Path, candidate: Path, batches: list[list[torch.Tensor]], rounds: int = TIMING_ROUNDS
) -> float:
    """How much faster `candidate` is than `reference`: the median of alternating rounds, so that a
    burst of load on a shared machine hits one round, not the verdict."""
    runners = [OnnxRuntimeRunner(reference), OnnxRuntimeRunner(candidate)]
    try:
        ratios = [_time(runners[0], batches) / _time(runners[1], batches) for _ in range(rounds)]
    finally:
        for runner in runners:
            runner.close()
    return statistics.median(ratios)


def tune_for_speed(
    float_model: Path,
    exclude: list[str],
    quantize_excluding: Callable[[list[str], Path], None],
    batches: list[list[torch.Tensor]],
    scratch: Path,
    op_types: tuple[str, ...] | None = None,
) -> tuple[list[str], list[GroupTrial]]:
    """Greedy: try each group in float on top of what is already kept; keep it if the model is faster.

    Returns the node names to keep in float (beyond `exclude`) and every trial, for the report.
    """
    groups = candidate_groups(float_model, exclude, op_types)
    # First everything but the convolutions at once (int8 only where the weights are): on models
    # like DenseNet no single op type pays alone, but together their quantize steps cost the most.
    others = [name for group, nodes in groups.items() if group not in CONV_GROUPS for name in nodes]
    plan = [(BULK_GROUP, others)] if len(groups) > len(CONV_GROUPS) else []
    current = scratch / "speed-current.onnx"
    quantize_excluding(exclude, current)
    kept: list[str] = []
    trials = []
    with make_progress() as progress:
        bar = progress.add_task("int8: where does int8 pay?", total=len(groups) + len(plan), status="")
        for group, nodes in plan + list(groups.items()):
            if set(nodes) <= set(kept):  # already in float with the bulk group
                progress.update(bar, advance=1)
                continue
            trial = scratch / "speed-trial.onnx"
            quantize_excluding(exclude + kept + nodes, trial)
            speedup = relative_speed(current, trial, batches)
            keep = speedup >= MIN_GAIN
            trials.append(GroupTrial(group, nodes, speedup, keep))
            if keep:
                kept += [name for name in nodes if name not in kept]
                trial.replace(current)
            progress.update(bar, advance=1, status=group)
    return kept, trials
