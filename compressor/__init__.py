"""compressor: make trained models smaller and faster, export them, and measure what that cost and won."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "register_backend", "register_model_source"]


def __getattr__(name: str) -> Any:
    """The public API, imported on first use: `compress --help` must not wait for torch."""
    if name == "register_backend":
        from compressor.runtime.registry import register_backend

        return register_backend
    if name == "register_model_source":
        from compressor.models.loading import register_model_source

        return register_model_source
    raise AttributeError(f"module 'compressor' has no attribute {name!r}")
