"""Per-layer int8 sensitivity: how far each layer alone, in int8, moves the model's outputs from float.

Measured on calibration (train) batches against the float model's outputs, so it needs no labels and
never looks at the val split the report scores. The accuracy-budget fallback returns the most
sensitive layers to float first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from compressor.core.progress import make_progress
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner

# The layers whose int8 error matters: the ones holding weights. Their neighbours follow them.
WEIGHTED_OP_TYPES = ("Conv", "ConvTranspose", "Gemm", "MatMul")


@dataclass(frozen=True)
class LayerSensitivity:
    name: str
    op_type: str
    sensitivity: float  # relative output error with only this layer in int8 (0 = no change)

    def to_dict(self) -> dict[str, str | float]:
        return {"name": self.name, "op_type": self.op_type, "sensitivity": self.sensitivity}


def relative_error(reference: list[torch.Tensor], candidate: list[torch.Tensor]) -> float:
    """||candidate - reference|| / ||reference|| over the float outputs (integer outputs such as labels skipped)."""
    pairs = [(r.float(), c.float()) for r, c in zip(reference, candidate, strict=True) if r.is_floating_point()]
    error = sum(float((c - r).pow(2).sum()) for r, c in pairs)
    scale = sum(float(r.pow(2).sum()) for r, _ in pairs)
    return (error / scale) ** 0.5 if scale > 0 else error**0.5


def run_batches(model: Path, batches: list[list[torch.Tensor]]) -> list[list[torch.Tensor]]:
    runner = OnnxRuntimeRunner(model)
    try:
        return [runner.run(batch) for batch in batches]
    finally:
        runner.close()


def measure_sensitivity(
    float_model: Path,
    layers: dict[str, str],
    batches: list[list[torch.Tensor]],
    quantize_only: Callable[[str, Path], None],
    scratch: Path,
) -> list[LayerSensitivity]:
    """Sensitivity of each layer (name -> op type), most sensitive first.

    `quantize_only(name, target)` writes the model with only that layer in int8 (cached calibration
    ranges make each call cheap).
    """
    reference = run_batches(float_model, batches)
    results = []
    with make_progress() as progress:
        bar = progress.add_task("int8 sensitivity per layer", total=len(layers), status="")
        for name, op_type in layers.items():
            target = scratch / "sensitivity.onnx"
            quantize_only(name, target)
            outputs = run_batches(target, batches)
            error = sum(relative_error(r, c) for r, c in zip(reference, outputs, strict=True)) / len(batches)
            results.append(LayerSensitivity(name, op_type, error))
            progress.update(bar, advance=1, status=name)
    return sorted(results, key=lambda layer: layer.sensitivity, reverse=True)
