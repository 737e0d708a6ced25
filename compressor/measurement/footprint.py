"""A model's size, parameter count and MACs per sample: the columns every report row carries.

Counted once on the torch model (torch-pruning's counter, not a formula) and recorded in the metadata of
the ONNX files we write, so an exported, quantized or bundled file benchmarked on its own later shows the
same params and MACs as the model it came from.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import onnx
import torch
import torch_pruning as tp

from compressor.core.files import file_size_mb
from compressor.core.handle import ModelHandle
from compressor.tasks import get_task

METADATA_FIELD = "footprint"  # in our ONNX metadata: the torch model's params and macs


@dataclass(frozen=True)
class Footprint:
    size_mb: float
    params: int | None
    macs: int | None

    def counts(self) -> dict[str, int | None]:
        """What an ONNX file's metadata records (its size is the file's own)."""
        return {key: value for key, value in asdict(self).items() if key != "size_mb"}


def torch_footprint(handle: ModelHandle) -> Footprint:
    """Weights size, parameter count and MACs per sample (counted by torch-pruning, not by formula)."""
    assert handle.module is not None
    module = handle.module.eval()
    size_bytes = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    example = get_task(handle.task).example_inputs(handle.input_spec, 1)
    if any(t.dtype in (torch.float16, torch.bfloat16) for t in module.state_dict().values()):
        module = copy.deepcopy(module).float()  # the counter runs float32 inputs; counts do not depend on dtype
    with torch.no_grad():
        macs, params = tp.utils.count_ops_and_params(module, example[0] if len(example) == 1 else tuple(example))
    return Footprint(size_mb=size_bytes / 1e6, params=int(params), macs=int(macs))


def onnx_footprint(handle: ModelHandle, reference: Footprint | None) -> Footprint:
    """File size (an IR's .xml and .bin), and the counts of the torch model this ONNX file came from: the one
    measured beside it, else the one its metadata records, else the graph's own weights (and no MACs)."""
    assert handle.onnx_path is not None
    size_mb = file_size_mb(handle.onnx_path)
    if handle.openvino_ir:  # the graph in .xml, the weights in .bin beside it
        size_mb += file_size_mb(handle.onnx_path.with_suffix(".bin"))
    if reference is not None:
        return Footprint(size_mb=size_mb, params=reference.params, macs=reference.macs)
    recorded = handle.metadata.get(METADATA_FIELD)
    if isinstance(recorded, dict):
        return Footprint(size_mb=size_mb, params=recorded.get("params"), macs=recorded.get("macs"))
    if handle.openvino_ir:
        return Footprint(size_mb=size_mb, params=None, macs=None)
    model = onnx.load(str(handle.onnx_path), load_external_data=False)
    return Footprint(size_mb=size_mb, params=weight_count(model.graph), macs=None)


def weight_count(graph: onnx.GraphProto) -> int:
    """Elements of the graph's initializers that are weights: a Q/DQ node's scale and zero point (inputs 1
    and 2, one per output channel when per-channel) describe a weight or an activation, they are not one."""
    quantization = {
        name
        for node in graph.node
        if node.op_type in ("QuantizeLinear", "DequantizeLinear")
        for name in node.input[1:3]
    }
    stored = sum(math.prod(init.dims) for init in graph.initializer if init.name not in quantization)
    return stored + sum(math.prod(tensor.dims) for tensor in _constant_weights(graph))


FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16, onnx.TensorProto.DOUBLE)


def _constant_weights(graph: onnx.GraphProto) -> list[onnx.TensorProto]:
    """Float tensors held in Constant nodes: some exporters (paddle2onnx) store every weight so, and a
    quantizer turns them into initializers, so counting both keeps one model's count across its files."""
    return [
        attribute.t
        for node in graph.node
        if node.op_type == "Constant"
        for attribute in node.attribute
        if attribute.name == "value" and attribute.t.data_type in FLOAT_TYPES
    ]
