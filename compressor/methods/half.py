"""16-bit floats: torch half/bfloat16 models for GPUs, and fp16 ONNX files for onnxruntime and TensorRT."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import onnx

from compressor.core.errors import ExportError, brief
from compressor.core.handle import ModelHandle
from compressor.models.checkpoint import REDUCED_PRECISION_DTYPES

# Kept in float32 on top of the converter's own list: ops whose range or precision fp16 cannot hold
# (exponentials, normalisation statistics, softmax sums) and the detectors' post-processing.
NUMERICALLY_SENSITIVE_OPS = (
    "Softmax",
    "LayerNormalization",
    "ReduceMean",
    "ReduceSum",
    "Exp",
    "Log",
    "Pow",
    "Sqrt",
    "Reciprocal",
)


def torch_half_handle(handle: ModelHandle, precision: str) -> ModelHandle:
    """A copy of the torch model in fp16 or bf16; runners cast float inputs to the model's dtype."""
    assert handle.module is not None
    module = copy.deepcopy(handle.module).eval().to(REDUCED_PRECISION_DTYPES[precision])
    return dataclasses.replace(handle, module=module, metadata={**handle.metadata, "precision": precision})


def convert_onnx_fp16(source: Path, target: Path) -> list[str]:
    """Write an fp16 copy of `source` with float32 inputs and outputs; return the op types kept in float32."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = onnx.load(str(source))
    blocked = sorted(set(DEFAULT_OP_BLOCK_LIST) | set(NUMERICALLY_SENSITIVE_OPS))
    try:
        converted = convert_float_to_float16(model, keep_io_types=True, op_block_list=blocked)
    except (ValueError, RuntimeError, KeyError) as error:
        raise ExportError(f"fp16 conversion failed: {brief(error)}") from error
    onnx.save(converted, str(target))
    present = {node.op_type for node in model.graph.node}
    return [op for op in blocked if op in present]
