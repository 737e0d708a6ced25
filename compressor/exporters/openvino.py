"""Export to OpenVINO IR (.xml and .bin) for Intel CPUs, GPUs and NPUs, checked against its source.

The IR is converted from our ONNX export (or from an .onnx file as it is: a Q/DQ int8 file becomes an int8
IR) and carries the model's description, so `compress bench model.xml --backend openvino` reloads it and
OpenVINO's Model API finds its labels, normalisation and framing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from compressor.core.errors import OptionError
from compressor.core.handle import ModelHandle
from compressor.exporters.onnx import DEFAULT_OPSET, ParityResult, export_onnx, runners_parity
from compressor.models.openvino_ir import IR_SUFFIX, onnx_as_openvino_ir
from compressor.runtime.base import Runner
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner
from compressor.runtime.openvino_runner import OpenVinoRunner, import_openvino
from compressor.runtime.torch_runner import TorchRunner


def export_openvino_ir(
    handle: ModelHandle, target: Path, parity_inputs: list[torch.Tensor], opset: int = DEFAULT_OPSET
) -> tuple[ModelHandle, ParityResult]:
    """`handle` as an IR at `target` (.xml), and how closely OpenVINO's CPU plugin (float32) computes what
    its source does: torch for a torch model, onnxruntime for an .onnx file."""
    if target.suffix != IR_SUFFIX:
        raise OptionError(f"--format openvino writes an IR: name the .xml file (e.g. {target.with_suffix('.xml')})")
    import_openvino()  # one line naming the extra, before any export work
    with tempfile.TemporaryDirectory(prefix="compressor-openvino-") as scratch:
        source: Runner
        if handle.module is not None:
            onnx_handle, _ = export_onnx(handle, Path(scratch) / "model.onnx", parity_inputs, opset)
            source = TorchRunner(handle.module)
        else:
            assert handle.onnx_path is not None
            onnx_handle, source = handle, OnnxRuntimeRunner(handle.onnx_path)
        ir = onnx_as_openvino_ir(onnx_handle, target)
    runner = OpenVinoRunner(target)
    try:
        return ir, runners_parity(handle.task, source, runner, parity_inputs)
    finally:
        runner.close()
        source.close()
