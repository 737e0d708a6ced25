"""The zoo by name: the built-in entries (zoo.py, detection.py) registered, then looked up."""

from __future__ import annotations

import difflib

from compressor.core.errors import UnknownNameError
from compressor.models import detection, zoo  # noqa: F401  (importing registers the built-in entries)
from compressor.models.registry import ZooEntry, registered


def get_entry(name: str) -> ZooEntry:
    entries = registered()
    if name not in entries:
        close = difflib.get_close_matches(name, entries, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownNameError(f"unknown model {name!r}.{hint} `compress models` lists the zoo.")
    return entries[name]


def is_zoo_name(name: str) -> bool:
    return name in registered()


def list_entries() -> list[ZooEntry]:
    return sorted(registered().values(), key=lambda entry: (entry.task, entry.name))
