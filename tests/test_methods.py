"""Methods come from one registry: the built-in ones, and a plug-in's, registered in a file of its own and
found through the `compressor.methods` entry-point group, which a recipe and `cz.compress` then run."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import pytest
import torch
from plugin_helpers import offer_plugins

import compressor as cz
from compressor.cli import app
from compressor.methods import registry


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = importlib.metadata.EntryPoint("round-weights", "plugin_method", registry.ENTRY_POINT_GROUP)
    offer_plugins(monkeypatch, registry.ENTRY_POINT_GROUP, [entry])
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # this test's registrations go with it
    monkeypatch.delitem(sys.modules, "plugin_method", raising=False)


def test_the_built_in_methods_are_the_recipe_stages() -> None:
    assert list(registry.stage_kinds()) == ["prune", "distill", "quantize"]
    assert registry.method_for(cz.Int8()).config is cz.Quantize  # Int8 is a Quantize


def test_a_recipe_runs_a_method_a_plug_in_registers(plugin: None, cli, tmp_path: Path) -> None:  # noqa: ANN001
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "model: tiny_cnn\nweights: random\nbatch_sizes: [1]\nmax_samples: 64\n"
        "stages:\n  - round_weights: {decimals: 1}\n"
        "  - quantize: {precision: int8, tune_speed: false, calib_samples: 16}\n"
    )
    result = cli.invoke(app, ["run", str(recipe), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    stage = tmp_path / "out" / "stages" / "01-round_weights"
    rows = json.loads((stage / "report.json").read_text())["results"]
    assert {(row["variant"], row["backend"]) for row in rows} >= {("baseline", "torch"), ("rounded", "onnxruntime")}
    saved = torch.load(stage / "model.rounded.pt", weights_only=True)  # the next stage took this file
    weights = next(value for value in saved["state_dict"].values() if value.is_floating_point())
    assert torch.equal(weights, torch.round(weights, decimals=1))
    summary = json.loads((tmp_path / "out" / "report.json").read_text())["results"]
    assert {row["variant"] for row in summary} >= {"baseline", "rounded", "rounded+int8"}


def test_a_plug_in_method_s_options_are_checked_with_its_stage(plugin: None, cli, tmp_path: Path) -> None:  # noqa: ANN001
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: tiny_cnn\nstages:\n  - round_weights: {decimals: -1}\n")
    result = cli.invoke(app, ["run", str(recipe), "-o", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "line 3: stages.0.round_weights.decimals: Input should be greater than or equal to 0" in result.output
