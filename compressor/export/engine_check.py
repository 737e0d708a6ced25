"""Inputs and onnxruntime's outputs for checking a Jetson bundle's engine on the board (`check_engine.py`).

The engine trtexec builds on the device is not the ONNX the manifest's accuracy was measured on: TensorRT
fuses layers, runs the unquantized ones in fp16 (which can overflow to NaN) and reads the Q/DQ its own way.
The bundle therefore carries a few input tensors exactly as the engine takes them and the outputs
onnxruntime gave for model.onnx here; on the board, trtexec runs the engine on the same tensors and the
script compares. The samples are the val samples onnxruntime classifies with the clearest margin, so a
class that changes on the board means the engine computes something else, not a near tie that rounding
tipped over.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from torch.utils.data import Dataset, Subset

from compressor.data.loader import data_loader
from compressor.fsutil import write_text_atomic
from compressor.models.handle import InputSpec
from compressor.runtime.fixed_batch import FixedBatchRunner
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner
from compressor.tasks.base import Task

CHECK_FORMAT = "compressor.engine-check/1"
CHECK_SAMPLES = 8  # at least; a larger static batch takes one batch of its size
CANDIDATES = 64  # val samples the clearest are chosen from
CHECKED_TASKS = ("classification",)


def _prepared_candidates(val: Dataset, task: Task, spec: InputSpec) -> torch.Tensor:
    """The first CANDIDATES val samples as the model's input, preprocessed exactly as for scoring."""
    subset = Subset(val, range(min(len(val), CANDIDATES)))  # type: ignore[arg-type]
    loader = data_loader(subset, CANDIDATES, "cpu", shuffle=False, collate_fn=task.collate)
    inputs, _targets = task.prepare_batch(next(iter(loader)), spec)
    return inputs[0]


def clearest_samples(logits: torch.Tensor, count: int) -> list[int]:
    """Indices of the `count` rows whose top class leads the runner-up by most, in their original order."""
    top2 = logits.topk(2, dim=1).values
    margins = top2[:, 0] - top2[:, 1]
    chosen = margins.argsort(descending=True)[:count]
    return sorted(int(index) for index in chosen)


def write_engine_check(
    output_dir: Path, bundle_onnx: Path, val: Dataset, task: Task, spec: InputSpec, batch_size: int
) -> int:
    """check/inputs/*.bin (raw tensors, the engine's input dtype, C order) and check/expected.json; returns
    the number of samples (0, writing nothing, for tasks the script cannot compare)."""
    if task.name not in CHECKED_TASKS:
        return 0
    runner = OnnxRuntimeRunner(bundle_onnx)
    input_name, output_name = runner.input_names[0], runner.session.get_outputs()[0].name
    try:
        images = _prepared_candidates(val, task, spec)
        count = -(-max(CHECK_SAMPLES, batch_size) // batch_size) * batch_size  # whole static batches
        logits = FixedBatchRunner(runner, batch_size).run([images])[0]
        chosen = clearest_samples(logits.float(), min(count, len(images)))
        chosen += chosen[-1:] * (count - len(chosen))  # a small val split: the last repeated
        shutil.rmtree(output_dir / "check", ignore_errors=True)  # a --force rebuild leaves no stale inputs
        (output_dir / "check" / "inputs").mkdir(parents=True)
        batches = []
        for number, start in enumerate(range(0, count, batch_size)):
            batch = images[chosen[start : start + batch_size]]
            (fed,) = runner.to_device([batch])
            file = f"inputs/{number}.bin"
            (output_dir / "check" / file).write_bytes(np.ascontiguousarray(fed).tobytes())
            expected = runner.session.run([output_name], {input_name: fed})[0]
            batches.append({"file": file, "values": np.asarray(expected, dtype=np.float64).ravel().tolist()})
    finally:
        runner.close()
    record = {
        "format": CHECK_FORMAT,
        "task": task.name,
        "input": {"name": input_name, "dtype": fed.dtype.name, "shape": list(fed.shape)},
        "output": {"name": output_name, "shape": list(expected.shape)},
        "source": f"onnxruntime {onnxruntime.__version__} (CPU) on model.onnx",
        "batches": batches,
    }
    write_text_atomic(output_dir / "check" / "expected.json", json.dumps(record, indent=1) + "\n")
    return count
