"""compressor: make trained models smaller and faster, export them, and measure what that cost and won.

import compressor as cz
data = cz.load_dataset("shapes")
model = cz.load_model("mobilenet_v2", data, weights="random")   # never trains
model = cz.reference_model("mobilenet_v2", data)               # trains and caches on first use
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first use: `compress --help` must not wait for torch.
_PUBLIC = {
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
