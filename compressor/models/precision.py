"""The numeric precision a model runs in (fp32, fp16, bf16, int8), read from the model itself.

Reports label rows with it, and compression commands refuse models that were compressed already:
quantizing an int8 file again or exporting fp16 weights fails deep inside the quantizer or the exporter,
so the user gets one line pointing back to the fp32 model instead.
"""

from __future__ import annotations

from collections import Counter

import onnx
import torch

from compressor.core.errors import InputFileError
from compressor.core.handle import ModelHandle
from compressor.runtime.torch_runner import reduced_precision

FULL_PRECISION = "fp32"
_TORCH_NAMES = {torch.float16: "fp16", torch.bfloat16: "bf16"}
_ONNX_FLOAT_NAMES = {
    onnx.TensorProto.FLOAT: "fp32",
    onnx.TensorProto.FLOAT16: "fp16",
    onnx.TensorProto.BFLOAT16: "bf16",
}
# Ops that only appear in quantized graphs: Q/DQ pairs (static, TensorRT), onnxruntime's QOperator
# format (QLinearConv, QLinearMatMul, ...) and dynamic quantization (MatMulInteger, ConvInteger).
_INTEGER_OPS = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"}


def onnx_graph_precision(model: onnx.ModelProto) -> str:
    """int8 when the graph quantizes anything; otherwise the float type most of its weights are stored in."""
    ops = {node.op_type for node in model.graph.node}
    if ops & _INTEGER_OPS or any(op.startswith("QLinear") for op in ops):
        return "int8"
    stored = Counter(
        _ONNX_FLOAT_NAMES[tensor.data_type]
        for tensor in model.graph.initializer
        if tensor.data_type in _ONNX_FLOAT_NAMES
    )
    return stored.most_common(1)[0][0] if stored else FULL_PRECISION


def model_precision(handle: ModelHandle) -> str:
    """What `handle` computes in: a torch model's weight dtype, or what an ONNX file records (see
    `read_onnx_handle`, which fills it in from the graph for files we did not write)."""
    if handle.module is not None:
        dtype = reduced_precision(handle.module)
        return _TORCH_NAMES[dtype] if dtype is not None else FULL_PRECISION
    return str(handle.metadata.get("precision", FULL_PRECISION))


def require_full_precision(handle: ModelHandle, purpose: str) -> None:
    """Refuse a model that is fp16, bf16 or int8 already: `purpose` starts from fp32 weights."""
    precision = model_precision(handle)
    if precision != FULL_PRECISION:
        raise InputFileError(
            f"{handle.source} is {precision} already; {purpose} starts from the fp32 model "
            "(the one compress quantize was given; bench this one with compress bench)"
        )
