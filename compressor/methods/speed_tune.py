"""Keep in float what int8 does not speed up on this machine, measured rather than assumed.

onnxruntime's x86 kernels do not gain from int8 everywhere: small element-wise ops pay for their
extra quantize/dequantize steps, and depthwise convolutions are memory-bound either way. Which groups
lose depends on the model and the CPU, so each group is tried in float on the target itself and
kept there only when the whole model gets faster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch

from compressor.bench import time_runner
from compressor.methods.sensitivity import WEIGHTED_OP_TYPES
from compressor.progress import make_progress
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner

# A group returns to float only if the model gets at least this much faster (timing noise is ~2%).
MIN_GAIN = 1.03
TIMING_SECONDS = 0.5


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


def candidate_groups(model_path: Path, exclude: list[str]) -> dict[str, list[str]]:
    """Node groups worth trying in float: each non-weighted op type, and depthwise convolutions."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    groups: dict[str, list[str]] = {}
    for node in graph.node:
        if node.name in exclude:
            continue
        if node.op_type == "Conv":
            group = next((a.i for a in node.attribute if a.name == "group"), 1)
            if group > 1:
                groups.setdefault("depthwise Conv", []).append(node.name)
        elif node.op_type not in WEIGHTED_OP_TYPES:
            groups.setdefault(node.op_type, []).append(node.name)
    return groups


def model_time(path: Path, batches: list[list[torch.Tensor]]) -> float:
    """Product of the p50 latencies at each batch size: one figure that rewards speed at all of them."""
    runner = OnnxRuntimeRunner(path)
    try:
        total = 1.0
        for inputs in batches:
            total *= time_runner(runner, inputs, min_seconds=TIMING_SECONDS).p50
        return total
    finally:
        runner.close()


def tune_for_speed(
    float_model: Path,
    exclude: list[str],
    quantize_excluding: Callable[[list[str], Path], None],
    batches: list[list[torch.Tensor]],
    scratch: Path,
) -> tuple[list[str], list[GroupTrial]]:
    """Greedy: try each group in float on top of what is already kept; keep it if the model is faster.

    Returns the node names to keep in float (beyond `exclude`) and every trial, for the report.
    """
    groups = candidate_groups(float_model, exclude)
    current = scratch / "speed-current.onnx"
    quantize_excluding(exclude, current)
    kept: list[str] = []
    trials = []
    with make_progress() as progress:
        bar = progress.add_task("int8: where does int8 pay?", total=len(groups), status="")
        for group, nodes in groups.items():
            trial = scratch / "speed-trial.onnx"
            quantize_excluding(exclude + kept + nodes, trial)
            # Both timed now, one after the other, so drift on a shared machine cancels out.
            speedup = model_time(current, batches) / model_time(trial, batches)
            keep = speedup >= MIN_GAIN
            trials.append(GroupTrial(group, nodes, speedup, keep))
            if keep:
                kept += nodes
                trial.replace(current)
            progress.update(bar, advance=1, status=group)
    return kept, trials
