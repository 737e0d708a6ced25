"""Where an ONNX model spends its time on onnxruntime, op type by op type, from onnxruntime's profiler.

When int8 is no faster than fp32 on a CPU, a total does not say why; a per-op-type breakdown does.
`compress quantize` records both models' breakdowns in its report and prints them when int8 is not
faster.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from compressor.report.verdict import SpeedVerdict
from compressor.runtime.onnxruntime_runner import create_session, session_feed, session_options

PROFILED_RUNS = 30
WARMUP_RUNS = 5
# Before profiling, the model runs unprofiled for this long: the thread pools of sessions that ran just
# before (the timed rows') spin on for a while and would take the cores from a short profile.
SETTLE_SECONDS = 0.5
SHOWN_OP_TYPES = 5  # per model, in the printed line; the report keeps every op type
DEPTHWISE = "depthwise"  # grouped convolutions are counted apart: "Conv (depthwise)", "QLinearConv (depthwise)"


def op_type_times(path: Path, inputs: list[torch.Tensor], runs: int = PROFILED_RUNS) -> dict[str, float]:
    """Kernel milliseconds per run by op type (largest first) over `runs` runs after a warm-up, in a CPU
    session set up as the timed rows' (threads, optimisation level), so the op types are those of the
    graph onnxruntime runs after its fusions (QLinearConv, not DequantizeLinear-Conv-QuantizeLinear)."""
    arrays = [np.ascontiguousarray(tensor.numpy()) for tensor in inputs]
    _settle(path, arrays)
    options = session_options(path)
    options.enable_profiling = True
    with tempfile.TemporaryDirectory(prefix="compressor-profile-") as folder:
        options.profile_file_prefix = str(Path(folder) / "onnxruntime")
        options.optimized_model_filepath = str(Path(folder) / "optimized.onnx")  # the graph the profile names
        # its weights in a file beside it: only the graph is read, and a model over 2 GB still serialises
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name", "weights")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = session_feed(session, arrays)
        for _ in range(WARMUP_RUNS + runs):
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())
        depthwise = _depthwise_convolutions(Path(options.optimized_model_filepath))
    first = [event["ts"] for event in events if event.get("name") == "model_run"][-runs]
    totals: Counter[str] = Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time") and event["ts"] >= first:
            node, op_type = event["name"].removesuffix("_kernel_time"), event["args"]["op_name"]
            totals[f"{op_type} ({DEPTHWISE})" if node in depthwise else op_type] += event["dur"]  # microseconds
    return {op_type: round(micros / runs / 1000, 4) for op_type, micros in totals.most_common()}


def _depthwise_convolutions(optimized: Path) -> set[str]:
    """Names of the grouped convolutions (float NCHWc or int8 QLinearConv) in onnxruntime's optimised
    graph: MobileNet-style models spend much of their time there, and int8 gains least (or loses) there."""
    graph = onnx.load(str(optimized), load_external_data=False).graph
    return {
        node.name
        for node in graph.node
        if "Conv" in node.op_type and any(a.name == "group" and a.i > 1 for a in node.attribute)
    }


def _settle(path: Path, arrays: list[np.ndarray]) -> None:
    """Run the model unprofiled for SETTLE_SECONDS (see there), in a session of its own: a profiled
    session would record every warm-up run too."""
    session = create_session(path)
    feed = session_feed(session, arrays)
    deadline = time.perf_counter() + SETTLE_SECONDS
    while time.perf_counter() < deadline:
        session.run(None, feed)


def top_op_types(times: dict[str, float]) -> str:
    """The largest op types of a breakdown, for one line of text."""
    return ", ".join(f"{op_type} {ms:.2f}" for op_type, ms in list(times.items())[:SHOWN_OP_TYPES])


@dataclass(frozen=True)
class OpTimes:
    """Two models' breakdowns at one batch size: the reference (fp32) and the compressed variant."""

    batch_size: int
    reference: dict[str, float]
    variant: dict[str, float]

    def to_dict(self, reference: str, variant: str) -> dict[str, object]:
        return {"batch_size": self.batch_size, reference: self.reference, variant: self.variant}

    def sentence(self, reference: str, variant: str) -> str:
        return (
            f"where onnxruntime's time goes at batch {self.batch_size} (its profiler, kernel ms per run by op "
            f"type): {reference} {top_op_types(self.reference)}; {variant} {top_op_types(self.variant)}"
        )


def profile_batch_size(verdicts: list[SpeedVerdict], batch_sizes: list[int]) -> tuple[int, bool]:
    """The batch size to profile, and whether the variant was not faster there: the first onnxruntime batch
    size where it was not faster, else the first one measured."""
    on_onnxruntime = [verdict for verdict in verdicts if verdict.backend == "onnxruntime"]
    not_faster = [verdict.batch_size for verdict in on_onnxruntime if not verdict.faster]
    if not_faster:
        return not_faster[0], True
    return (on_onnxruntime[0].batch_size if on_onnxruntime else batch_sizes[0]), False


def profile_pair(reference: Path, variant: Path, inputs: list[torch.Tensor]) -> OpTimes:
    """Both models profiled on the same inputs, one after the other."""
    batch_size = int(inputs[0].shape[0])
    return OpTimes(batch_size, op_type_times(reference, inputs), op_type_times(variant, inputs))
