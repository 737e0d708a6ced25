"""Keep in float what int8 does not speed up on this machine, measured rather than assumed.

onnxruntime's x86 kernels do not gain from int8 everywhere: small element-wise ops pay for their
extra quantize/dequantize steps, and depthwise convolutions are memory-bound either way. Which groups
lose depends on the model and the CPU, so each group is tried in float on the target itself and
kept there only when the whole model gets faster. Last, one dequantization shared by all float
consumers of an int8 tensor (see `shared_dequantization`) is tried the same way.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch

from compressor.core.progress import make_progress
from compressor.measurement.head_to_head import alternating_ratios, fresh_timing
from compressor.measurement.timing import time_runner
from compressor.methods.batchnorm_as_conv import is_rewritten_batchnorm
from compressor.methods.shared_dequantization import share_dequantization
from compressor.runtime.base import Runner
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner

# A group returns to float only if the model gets at least this much faster by the median of the rounds,
MIN_GAIN = 1.05
# and faster in at least this share of them: on a shared machine a spell of load can lift a median alone.
MIN_FASTER_SHARE = 0.75
# Per timing: a short warm-up and a few batches; three alternating rounds per comparison.
TIMING_SECONDS = 0.2
TIMING_ITERATIONS = 5
TIMING_WARMUP = 2
TIMING_ROUNDS = 3
CONFIRM_ROUNDS = 6  # more rounds for a trial that looks no slower, before it is adopted
BATCHNORM_CONV = "BatchNormalization as 1x1 depthwise Conv"  # see `batchnorm_as_conv`
CONV_GROUPS = ("input Conv", "depthwise Conv", BATCHNORM_CONV)
IMAGE_CHANNELS = 4  # a convolution reading at most this many channels reads the image (RGB, RGBA, grey)
WEIGHT_PRODUCT_GROUPS = ("MatMul", "Gemm")  # products with a weight matrix: where int8 pays on Transformers
ACTIVATION_MATMUL = "activation MatMul"  # attention's products of two activations: int8 both sides
BULK_GROUP = "every op but convolutions and weight products"
SHARED_DEQUANTIZATION = "one dequantization shared by float consumers"
OpenRunner = Callable[[Path], Runner]  # a model file -> a runner of the backend the tuner times on


@dataclass(frozen=True)
class TrialTiming:
    """One trial's rounds: the current model's time over the time with the change (>1: the change is faster)."""

    ratios: list[float]

    @property
    def speedup(self) -> float:
        return statistics.median(self.ratios)

    @property
    def faster_rounds(self) -> int:
        return sum(ratio > 1.0 for ratio in self.ratios)

    @property
    def clear_gain(self) -> bool:
        """At least MIN_GAIN faster by the median, and faster in MIN_FASTER_SHARE of the rounds."""
        enough_rounds = self.faster_rounds >= math.ceil(MIN_FASTER_SHARE * len(self.ratios))
        return self.speedup >= MIN_GAIN and enough_rounds


@dataclass(frozen=True)
class GroupTrial:
    group: str  # the nodes tried in float, or SHARED_DEQUANTIZATION
    nodes: list[str]
    timing: TrialTiming

    @property
    def speedup(self) -> float:
        return self.timing.speedup

    @property
    def adopted(self) -> bool:
        return self.timing.clear_gain

    @property
    def label(self) -> str:
        return f"{self.group} in float" if self.nodes else self.group

    def to_dict(self) -> dict[str, object]:
        return {
            "group": self.group,
            "nodes": len(self.nodes),
            "speedup": round(self.speedup, 3),
            "rounds": len(self.timing.ratios),
            "faster_rounds": self.timing.faster_rounds,
            "adopted": self.adopted,
        }


@dataclass(frozen=True)
class SpeedPlan:
    """What the tuner found faster on this machine."""

    kept_float: list[str]  # node names kept in float beyond the user's exclusions
    shared_dequantization: bool
    trials: list[GroupTrial]


def candidate_groups(
    model_path: Path, exclude: list[str], op_types: tuple[str, ...] | None = None
) -> dict[str, list[str]]:
    """Node groups worth trying in float: convolutions of the image itself (three input channels use int8
    kernels poorly; a detector normalises and resizes the image first, so this is not only the graph's
    input), depthwise convolutions, the BatchNormalizations written as convolutions, MatMuls of two
    activations (attention scores: both sides are quantized on the fly), and each other op type
    (element-wise ops, pooling, Gemm and weight MatMuls).
    The remaining convolutions are where int8 pays; they are never tried in float.
    With `op_types` (what the quantizer may touch), other op types are float anyway and not tried."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    weights = {init.name: init for init in graph.initializer}
    groups: dict[str, list[str]] = {}
    for node in graph.node:
        if node.name in exclude or (op_types is not None and node.op_type not in op_types):
            continue
        if is_rewritten_batchnorm(node):
            groups.setdefault(BATCHNORM_CONV, []).append(node.name)
        elif node.op_type == "Conv":
            if next((a.i for a in node.attribute if a.name == "group"), 1) > 1:
                groups.setdefault("depthwise Conv", []).append(node.name)
            elif node.input[1] in weights and weights[node.input[1]].dims[1] <= IMAGE_CHANNELS:
                groups.setdefault("input Conv", []).append(node.name)
        elif node.op_type == "MatMul" and not weights.keys() & set(node.input):
            groups.setdefault(ACTIVATION_MATMUL, []).append(node.name)
        elif node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            groups.setdefault(node.op_type, []).append(node.name)
    return groups


def _time(runner: Runner, batches: list[list[torch.Tensor]]) -> float:
    """Product of the p50 latencies at each batch size: one figure that rewards speed at all of them."""
    total = 1.0
    for inputs in batches:
        total *= time_runner(runner, inputs, TIMING_SECONDS, TIMING_ITERATIONS, warmup=TIMING_WARMUP).p50
    return total


def round_ratios(
    reference: Path,
    candidate: Path,
    batches: list[list[torch.Tensor]],
    rounds: int,
    open_runner: OpenRunner = OnnxRuntimeRunner,
) -> list[float]:
    """`reference`'s time over `candidate`'s, once per round, in fresh runners (see `head_to_head`)."""
    timed = functools.partial(_time, batches=batches)
    return alternating_ratios(
        fresh_timing(lambda: open_runner(reference), timed),
        fresh_timing(lambda: open_runner(candidate), timed),
        rounds,
    )


def relative_speed(
    reference: Path,
    candidate: Path,
    batches: list[list[torch.Tensor]],
    rounds: int = TIMING_ROUNDS,
    open_runner: OpenRunner = OnnxRuntimeRunner,
) -> float:
    """How much faster `candidate` is than `reference`: the median of alternating rounds, so that a
    burst of load on a shared machine hits one round, not the verdict."""
    return statistics.median(round_ratios(reference, candidate, batches, rounds, open_runner))


def trial_timing(
    current: Path, trial: Path, batches: list[list[torch.Tensor]], open_runner: OpenRunner = OnnxRuntimeRunner
) -> TrialTiming:
    """Alternating rounds with a second look before a change can be adopted: a trial that is not slower
    after TIMING_ROUNDS gets CONFIRM_ROUNDS more, and all of them decide (three rounds alone adopt noise)."""
    ratios = round_ratios(current, trial, batches, TIMING_ROUNDS, open_runner)
    if statistics.median(ratios) >= 1.0:
        ratios += round_ratios(current, trial, batches, CONFIRM_ROUNDS, open_runner)
    return TrialTiming(ratios)


def same_nodes(first: Path, second: Path) -> bool:
    """Whether two quantizer outputs hold the same nodes (attributes and wiring included)."""
    first_nodes, second_nodes = (
        [node.SerializeToString() for node in onnx.load(str(path), load_external_data=False).graph.node]
        for path in (first, second)
    )
    return first_nodes == second_nodes


def tune_for_speed(
    float_model: Path,
    exclude: list[str],
    quantize_excluding: Callable[[list[str], Path], None],
    batches: list[list[torch.Tensor]],
    scratch: Path,
    op_types: tuple[str, ...] | None = None,
    open_runner: OpenRunner = OnnxRuntimeRunner,
) -> SpeedPlan:
    """Greedy: try each group in float on top of what is already kept; keep it if the model is clearly faster.
    Then try shared dequantization on the result. Every trial is returned for the report. A group the
    quantizer leaves in float anyway (dynamic int8 takes no product of two activations) gives a file
    with the same nodes and is not timed: two identical models would only measure the noise."""
    groups = candidate_groups(float_model, exclude, op_types)
    # First everything but the convolutions and weight products at once (int8 only where the weights
    # are): on models like DenseNet no single op type pays alone, but together their quantize steps
    # cost the most.
    bulk = [group for group in groups if group not in CONV_GROUPS + WEIGHT_PRODUCT_GROUPS]
    plan = [(BULK_GROUP, [name for group in bulk for name in groups[group]])] if len(bulk) > 1 else []
    current = scratch / "speed-current.onnx"
    quantize_excluding(exclude, current)
    kept: list[str] = []
    trials = []
    with make_progress() as progress:
        bar = progress.add_task("int8: where does int8 pay?", total=len(groups) + len(plan) + 1, status="")
        for group, nodes in plan + list(groups.items()):
            if set(nodes) <= set(kept):  # already in float with the bulk group
                progress.update(bar, advance=1)
                continue
            trial = scratch / "speed-trial.onnx"
            quantize_excluding(exclude + kept + nodes, trial)
            if same_nodes(trial, current):  # the quantizer leaves this group in float anyway
                progress.update(bar, advance=1)
                continue
            trials.append(GroupTrial(group, nodes, trial_timing(current, trial, batches, open_runner)))
            if trials[-1].adopted:
                kept += [name for name in nodes if name not in kept]
                trial.replace(current)
            progress.update(bar, advance=1, status=group)
        shared = _try_shared_dequantization(current, batches, scratch, trials, open_runner)
        progress.update(bar, advance=1, status=SHARED_DEQUANTIZATION)
    return SpeedPlan(kept, shared, trials)


def _try_shared_dequantization(
    current: Path, batches: list[list[torch.Tensor]], scratch: Path, trials: list[GroupTrial], open_runner: OpenRunner
) -> bool:
    """Whether sharing dequantization makes `current` clearly faster; the trial joins `trials`."""
    trial = scratch / "speed-trial.onnx"
    if not share_dequantization(current, trial):
        return False
    trials.append(GroupTrial(SHARED_DEQUANTIZATION, [], trial_timing(current, trial, batches, open_runner)))
    return trials[-1].adopted
