"""Plug-ins: the modules installed packages name under an entry-point group, imported once on first use.

Importing such a module registers what it defines (`@register_backend`, `@register_method`), as
pytest and Olive load their plug-ins.
"""

from __future__ import annotations

import importlib.metadata

from compressor.core.progress import warn

_loaded: set[str] = set()


def entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    """The installed packages' plug-ins of `group`."""
    return list(importlib.metadata.entry_points(group=group))


def load_plugins(group: str, what: str) -> None:
    """Import every plug-in of `group` once; one that fails is warned of (`what`: backend, method) and skipped."""
    if group in _loaded:
        return
    _loaded.add(group)
    for entry_point in entry_points(group):
        try:
            entry_point.load()
        except Exception as error:  # noqa: BLE001  (a broken plug-in must not stop the built-in ones)
            warn(f"{what} plug-in {entry_point.name} ({entry_point.value}) failed to load: {error}")
