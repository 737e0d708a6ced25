"""Backends come from one registry: the built-in ones, and a plug-in's, registered in a file of its own and
found through the `compressor.backends` entry-point group, which `compress bench` then measures."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import pytest
from plugin_helpers import offer_plugins

from compressor.cli import app
from compressor.core.errors import UnknownNameError
from compressor.runtime import registry


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/plugin_backend.py as an installed package would offer it, through its entry point."""
    entry = importlib.metadata.EntryPoint("ort-sequential", "plugin_backend", registry.ENTRY_POINT_GROUP)
    offer_plugins(monkeypatch, registry.ENTRY_POINT_GROUP, [entry])
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # this test's registrations go with it
    monkeypatch.delitem(sys.modules, "plugin_backend", raising=False)  # imported afresh: it registers again


def test_the_built_in_backends_say_what_they_run() -> None:
    runs = {name: registry.get_backend(name).runs for name in registry.backend_names()}
    # openvino comes from the package's own entry point, as a plug-in's backend would
    assert runs == {"torch": "torch", "onnxruntime": "onnx", "tensorrt": "engine", "openvino": "onnx"}
    with pytest.raises(UnknownNameError, match="unknown backend 'tensorflow'; choose from torch, onnxruntime"):
        registry.get_backend("tensorflow")


def test_bench_measures_a_backend_a_plug_in_registers(plugin: None, cli, tmp_path: Path) -> None:  # noqa: ANN001
    report = tmp_path / "r.json"
    args = ["bench", "tiny_cnn", "--weights", "random", "--backend", "onnxruntime,ort-sequential"]
    result = cli.invoke(app, [*args, "--batch-sizes", "1", "--max-samples", "64", "--json", str(report)])
    assert result.exit_code == 0, result.output
    rows = {row["backend"]: row for row in json.loads(report.read_text())["results"]}
    assert set(rows) == {"onnxruntime", "ort-sequential"}  # the plug-in ran the same ONNX file
    assert rows["ort-sequential"]["metrics"] == rows["onnxruntime"]["metrics"]
    assert rows["ort-sequential"]["artifact"] == rows["onnxruntime"]["artifact"] == "baseline.onnx"


def test_a_plug_in_that_fails_to_load_leaves_the_built_in_backends(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    broken = importlib.metadata.EntryPoint("broken", "no_such_module_here", registry.ENTRY_POINT_GROUP)
    offer_plugins(monkeypatch, registry.ENTRY_POINT_GROUP, [broken])
    assert registry.backend_names()[:3] == ("torch", "onnxruntime", "tensorrt")
    assert "backend plug-in broken (no_such_module_here) failed to load" in capsys.readouterr().err


def test_quantize_measures_on_the_backends_it_is_given(plugin: None, cli, tmp_path: Path) -> None:  # noqa: ANN001
    """`compress quantize --backend`: the baseline and int8 ONNX files on a plug-in's backend alone."""
    args = ["quantize", "tiny_cnn", "--weights", "random", "--precision", "int8", "--no-tune-speed"]
    args += ["--backend", "ort-sequential", "--batch-sizes", "1", "--max-samples", "64", "-o", str(tmp_path / "q")]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "q" / "report.json").read_text())["results"]
    assert {(row["variant"], row["backend"]) for row in rows} == {
        ("baseline", "ort-sequential"),
        ("int8", "ort-sequential"),
    }
    assert {row["artifact"] for row in rows} == {"baseline.onnx", "model.int8.onnx"}
