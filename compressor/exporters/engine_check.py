"""Inputs and onnxruntime's outputs for checking a Jetson bundle's engine on the board (`check_engine.py`).

The engine built on the device is not the ONNX whose accuracy the manifest records (TensorRT fuses
layers, runs some in fp16, reads Q/DQ its own way), so the board reruns these inputs and compares. Only
clear samples are chosen, so a changed answer means the engine computes something else, not a near tie.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from torch.utils.data import Dataset, Subset

from compressor.core.files import write_text_atomic
from compressor.core.handle import InputSpec
from compressor.core.progress import warn
from compressor.data.loader import data_loader
from compressor.runtime.fixed_batch import FixedBatchRunner
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner
from compressor.tasks.base import Task
from compressor.tasks.detection import CONFIDENCE, MATCH_IOU

CHECK_FORMAT = "compressor.engine-check/1"
CHECK_SAMPLES = 8  # at least; a larger static batch takes one batch of its size
CANDIDATES = 64  # val samples the clearest are chosen from
# A detection counts when scored at least CONFIDENCE (as the detection metrics count it); a sample with a
# detection scored within CLEARANCE of that line is left out: rounding could move it across.
CLEARANCE = 0.15


def _prepared_candidates(val: Dataset, task: Task, spec: InputSpec) -> torch.Tensor:
    """The first CANDIDATES val samples as the model's input, preprocessed exactly as for scoring."""
    subset = Subset(val, range(min(len(val), CANDIDATES)))  # type: ignore[arg-type]
    loader = data_loader(subset, CANDIDATES, "cpu", shuffle=False, collate_fn=task.collate)
    inputs, _targets = task.prepare_batch(next(iter(loader)), spec)
    return inputs[0]


def clearest_classifications(outputs: list[torch.Tensor], count: int) -> list[int]:
    """Indices of the `count` rows whose top class leads the runner-up by most, in their original order."""
    top2 = outputs[0].float().topk(2, dim=1).values
    margins = top2[:, 0] - top2[:, 1]
    chosen = margins.argsort(descending=True)[:count]
    return sorted(int(index) for index in chosen)


def clear_detections(outputs: list[torch.Tensor], count: int) -> list[int]:
    """The first `count` samples with a detection scored at least CONFIDENCE and none near that line
    (padding, score -1, aside)."""
    scores = outputs[1].float()
    confident = (scores >= CONFIDENCE).any(dim=1)
    near = ((scores - CONFIDENCE).abs() < CLEARANCE).any(dim=1)
    return [int(index) for index in torch.nonzero(confident & ~near).flatten()[:count]]


_CHOOSERS: dict[str, Callable[[list[torch.Tensor], int], list[int]]] = {
    "classification": clearest_classifications,
    "detection": clear_detections,
}


def write_engine_check(
    output_dir: Path, bundle_onnx: Path, val: Dataset, task: Task, spec: InputSpec, batch_size: int
) -> int:
    """check/inputs/*.bin (raw tensors, the engine's input dtype, C order) and check/expected.json; returns
    the number of samples (0, writing nothing, where no val sample is clear enough to check)."""
    choose = _CHOOSERS[task.name]
    runner = OnnxRuntimeRunner(bundle_onnx)
    input_name = runner.input_names[0]
    outputs = [node.name for node in runner.session.get_outputs()]
    shutil.rmtree(output_dir / "check", ignore_errors=True)  # a --force rebuild leaves no stale inputs
    try:
        images = _prepared_candidates(val, task, spec)
        count = -(-max(CHECK_SAMPLES, batch_size) // batch_size) * batch_size  # whole static batches
        chosen = choose(FixedBatchRunner(runner, batch_size).run([images]), min(count, len(images)))
        if not chosen:
            warn(
                f"no engine check in the bundle: none of the first {len(images)} val samples has a {task.name} "
                "clear enough to compare on the board"
            )
            return 0
        count = -(-len(chosen) // batch_size) * batch_size
        chosen += chosen[-1:] * (count - len(chosen))  # whole batches: the last repeated
        (output_dir / "check" / "inputs").mkdir(parents=True)
        batches = []
        for number, start in enumerate(range(0, count, batch_size)):
            (fed,) = runner.to_device([images[chosen[start : start + batch_size]]])
            file = f"inputs/{number}.bin"
            (output_dir / "check" / file).write_bytes(np.ascontiguousarray(fed).tobytes())
            results = runner.session.run(outputs, {input_name: fed})
            values = {
                name: np.asarray(result, dtype=np.float64).ravel().tolist()
                for name, result in zip(outputs, results, strict=True)
            }
            batches.append({"file": file, "values": values})
    finally:
        runner.close()
    record = {
        "format": CHECK_FORMAT,
        "task": task.name,
        "input": {"name": input_name, "dtype": fed.dtype.name, "shape": list(fed.shape)},
        "outputs": [
            {"name": name, "shape": list(np.shape(result))} for name, result in zip(outputs, results, strict=True)
        ],
        "confidence": CONFIDENCE,
        "match_iou": MATCH_IOU,
        "source": f"onnxruntime {onnxruntime.__version__} (CPU) on model.onnx",
        "batches": batches,
    }
    write_text_atomic(output_dir / "check" / "expected.json", json.dumps(record, indent=1) + "\n")
    return count
