"""Plug-ins offered to compressor as an installed package's entry points would offer them."""

from __future__ import annotations

import importlib.metadata

import pytest

from compressor.core import plugins


def offer_plugins(monkeypatch: pytest.MonkeyPatch, group: str, entries: list[importlib.metadata.EntryPoint]) -> None:
    """`entries` as the installed plug-ins of `group` (and none of other groups), loaded afresh."""
    monkeypatch.setattr(plugins, "entry_points", lambda asked: entries if asked == group else [])
    monkeypatch.setattr(plugins, "_loaded", set())
