"""compressor: make trained models smaller and faster, export them, and measure what that cost and won.

import compressor as cz
data = cz.load_dataset("shapes")
model = cz.load_model("tiny_cnn", data, weights="random")         # never trains
int8 = cz.compress(model, cz.Int8(calibration="entropy"), data)   # a new model; files only where asked
report = cz.measure({"baseline": model, "int8": int8}, data, backends=["torch", "onnxruntime"])
report.write("out/")                                               # report.json, report.md, report.html
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first use: `compress --help` must not wait for torch.
_PUBLIC = {
    "compress": "compressor.api",
    "export": "compressor.api",
    "measure": "compressor.api",
    "save": "compressor.api",
    "Int8": "compressor.methods.configs",
    "Fp16": "compressor.methods.configs",
    "Bf16": "compressor.methods.configs",
    "Quantize": "compressor.methods.configs",
    "Prune": "compressor.methods.configs",
    "Distill": "compressor.methods.configs",
    "MethodConfig": "compressor.methods.configs",
    "Onnx": "compressor.exporters.configs",
    "TensorRT": "compressor.exporters.configs",
    "OpenVino": "compressor.exporters.configs",
    "Jetson": "compressor.exporters.configs",
    "ModelHandle": "compressor.core.handle",
    "register_method": "compressor.methods.registry",
    "Workspace": "compressor.methods.registry",
    "load_dataset": "compressor.data",
    "load_model": "compressor.models.loading",
    "reference_model": "compressor.training.checkpoints",
    "register_backend": "compressor.runtime.registry",
    "register_model_source": "compressor.models.loading",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'compressor' has no attribute {name!r}")
