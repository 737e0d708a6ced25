"""Recipes (`compress run`): the schema and its one-line errors, `--dump-recipe`, the shipped recipes end
to end (shrunk by overrides: random weights, small data), and the search (budget, best on disk, resume)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from compressor.cli import app
from compressor.core.errors import OptionError
from compressor.methods.configs import Quantize
from compressor.pipeline import stages as pipeline_stages
from compressor.pipeline.recipe import auto_quantize_search, load_recipe
from compressor.pipeline.run import run_recipe, write_summary
from compressor.pipeline.search import _latency_ratio, rank
from compressor.report.schema import DatasetInfo, LatencyMs, Report, ResultRow

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
QUICK = ["--max-samples", "24", "--set", "batch_sizes=[1]", "--set", "weights=random"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model: tiny_cnn\nstages:\n  - quantize: {precision: int8}\n  - quantise: {}\n", "line 4: stages.1.quantise"),
        ("model: tiny_cnn\nstages:\n  - quantize:\n      precision: int8\n      calibraton: x\n", "line 5:"),
        ("model: tiny_cnn\nstages:\n  - quantize: {precision: int9}\n", "line 3: stages.0.quantize.precision"),
        ("model: tiny_cnn\ncolour: red\nstages: [bench]\n", "line 2: colour: unknown key"),
        ("model: tiny_cnn\nstages:\n  - quantize: {precision: int8}\n  - prune: {sparsity: 0.5}\n", "line 4"),
        ("model: tiny_cnn\nstages:\n  - quantize: {precision: int8}\n  - quantize: {precision: fp16}\n", "already"),
        ("model: tiny_cnn\n", "needs `stages`, a `search`, or both"),
        ("model: tiny_cnn\nstages: [\n", "line 3"),
        ("model: tiny_cnn\nsearch: {grid: {quantise: {precision: [int8]}}}\n", "unknown stage 'quantise'"),
        # option values the stage's own checks refuse: were found only when that stage began to run
        ("model: tiny_cnn\nstages:\n  - bench\n  - prune: {sparsity: 2}\n", "line 4: stages.1: prune: --sparsity is"),
        ("model: tiny_cnn\nstages:\n  - export: {format: jetson, precision: fp32}\n", "line 3: stages.0: export"),
        ("model: tiny_cnn\nstages:\n  - distill: {feature_pairs: [conv1]}\n", "line 3: stages.0: distill"),
        ("model: tiny_cnn\nsearch:\n  candidates:\n    - prune: {threshold: 0.3, sparsity: 0.2}\n", "line 4"),
        ("model: tiny_cnn\nsearch: {grid: {prune: {sparsity: [0.2, 1.5]}}}\n", "got 1.5"),
        # a chain's mistake, not "should be a valid dictionary" (the other branch of stage-or-chain)
        (
            "model: tiny_cnn\nsearch:\n  candidates:\n    - [prune: {sparsity: 0.2}, quantize: {precision: int9}]\n",
            "line 4: search.candidates.0.1.quantize.precision",
        ),
    ],
)
def test_bad_recipes_are_refused_with_their_line(text: str, message: str, tmp_path: Path, cli) -> None:
    path = _write(tmp_path, text)
    result = cli.invoke(app, ["run", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_overrides_apply_before_validation(tmp_path: Path) -> None:
    path = _write(tmp_path, "model: tiny_cnn\nstages:\n  - quantize: {precision: int8}\n")
    recipe = load_recipe(path, ["stages.0.quantize.calibration=entropy", "max_samples=10", "model=resnet18"])
    (entry,) = recipe.stages
    assert isinstance(entry.stage, Quantize) and entry.stage.calibration == "entropy"
    assert recipe.max_samples == 10 and recipe.model == "resnet18"
    with pytest.raises(OptionError, match="calibration"):
        load_recipe(path, ["stages.0.quantize.calibration=guess"])


@pytest.mark.parametrize("recipe", sorted(RECIPES.glob("*.yaml")), ids=lambda path: path.stem)
def test_shipped_recipes_validate_and_dump_back_the_same(recipe: Path, tmp_path: Path) -> None:
    loaded = load_recipe(recipe)
    again = load_recipe(_write(tmp_path, loaded.dump()))
    assert again == loaded


def test_every_verb_dumps_the_recipe_it_would_run(tmp_path: Path, cli) -> None:
    commands = {
        "quantize": ["quantize", "tiny_cnn", "--precision", "int8", "--calibration", "entropy", "-o", "q"],
        "prune": ["prune", "tiny_cnn", "--sparsity", "0.5", "--finetune-epochs", "1", "-o", "p"],
        "distill": ["distill", "--teacher", "resnet18", "--student", "tiny_cnn", "--epochs", "2", "-o", "d"],
        "export": ["export", "tiny_cnn", "--format", "jetson", "--precision", "fp16", "-o", "j"],
        "bench": ["bench", "tiny_cnn", "--backend", "onnxruntime"],
    }
    for kind, args in commands.items():
        result = cli.invoke(app, [*args, "--dump-recipe"])
        assert result.exit_code == 0, result.output
        data = yaml.safe_load(result.stdout)
        assert [next(iter(stage)) for stage in data["stages"]] == [kind]
        load_recipe(_write(tmp_path, result.stdout))  # what it prints, `compress run` reads
    quantize = yaml.safe_load(cli.invoke(app, [*commands["quantize"], "--dump-recipe"]).stdout)
    assert quantize["stages"][0]["quantize"] == {"precision": "int8", "calibration": "entropy"}
    assert not Path("q").exists()  # dumping runs nothing


def test_mobilenet_v2_edge_recipe_runs(image_folder: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "edge"
    args = ["run", str(RECIPES / "mobilenet_v2-edge-int8.yaml"), "-o", str(out), "--data", str(image_folder)]
    # shrunk for CI: no per-layer sensitivity pass (random weights would send it through every layer)
    shrink = ["--set", "image_size=32", "--set", "stages.1.quantize.tune_speed=false"]
    shrink += ["--set", "stages.1.quantize.max_accuracy_drop=null"]
    result = cli.invoke(app, [*args, *QUICK, *shrink])
    assert result.exit_code == 0, result.output
    assert (out / "stages" / "01-export" / "manifest.json").is_file()
    assert (out / "stages" / "02-quantize" / "model.int8.onnx").is_file()
    rows = json.loads((out / "report.json").read_text())["results"]
    assert {row["variant"] for row in rows} == {"baseline", "int8", "int8 (bench)"}
    # run again: refused without --force; --resume finds every stage done and measures nothing new
    assert cli.invoke(app, [*args, *QUICK, *shrink]).exit_code == 2
    record = (out / "pipeline.json").read_text()
    resumed = cli.invoke(app, [*args, *QUICK, *shrink, "--resume"])
    assert resumed.exit_code == 0 and resumed.stderr.count("done in an earlier run") == 3
    assert json.loads((out / "pipeline.json").read_text())["stages"] == json.loads(record)["stages"]


def test_the_prune_distill_int8_recipe_runs(image_folder: Path, tmp_path: Path, cli) -> None:
    """The densenet121 recipe's chain on resnet18 (--model): DenseNet's own pruning and int8 are tested in
    test_prune and test_quantize, and its three ONNX exports here took a minute of the suite."""
    out = tmp_path / "dense"
    recipe = str(RECIPES / "densenet121-prune-distill-int8.yaml")
    args = ["run", recipe, "-o", str(out), "--data", str(image_folder), "--model", "resnet18"]
    shrink = ["--set", "image_size=32", "--set", "stages.1.distill.epochs=1", "--set", "stages.2.quantize.tune_speed=0"]
    result = cli.invoke(app, [*args, *QUICK, *shrink])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    variants = list(dict.fromkeys(row["variant"] for row in report["results"]))
    assert variants == ["baseline", "pruned", "pruned+distilled", "pruned+distilled+int8"]
    params = {row["variant"]: row["params"] for row in report["results"]}
    assert params["pruned"] < params["baseline"] and params["pruned+distilled"] == params["pruned"]
    distill = json.loads((out / "stages" / "02-distill" / "report.json").read_text())
    assert distill["distillation"]["teacher"] == "resnet18"  # the recipe's own model taught the pruned one


def test_ssdlite_recipe_runs(tmp_path: Path, cli) -> None:
    out = tmp_path / "ssd"
    args = ["run", str(RECIPES / "ssdlite-int8.yaml"), "-o", str(out), "--max-samples", "3", "--set", "weights=random"]
    quick = ["--set", "stages.0.quantize.calib_samples=4", "--set", "batch_sizes=[1]"]
    # the tuner's SSDlite trials are tested in test_detection; here they would only cost a minute
    result = cli.invoke(app, [*args, *quick, "--set", "stages.0.quantize.tune_speed=0"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["primary_metric"] == "map" and {r["variant"] for r in report["results"]} == {"baseline", "int8"}


def test_text_recipe_search_picks_within_budget_and_resumes(tmp_path: Path, cli, monkeypatch) -> None:
    out = tmp_path / "text"
    args = ["run", str(RECIPES / "text_transformer-dynamic-int8.yaml"), "-o", str(out), *QUICK]
    runs: list[str] = []
    original = pipeline_stages.VERB_STAGES[Quantize]

    def interrupted(config, *a, **k):  # the second candidate is interrupted (Ctrl-C)
        runs.append(config.method or "")
        if len(runs) == 2:
            raise KeyboardInterrupt
        return original(config, *a, **k)

    monkeypatch.setitem(pipeline_stages.VERB_STAGES, Quantize, interrupted)
    assert cli.invoke(app, args).exit_code == 130
    record = json.loads((out / "pipeline.json").read_text())["search"]
    assert [c["name"] for c in record["candidates"]] == ["quantize-int8-dynamic"]
    monkeypatch.setitem(pipeline_stages.VERB_STAGES, Quantize, original)
    result = cli.invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert "measured in an earlier run, skipped" in result.stderr
    search = json.loads((out / "pipeline.json").read_text())["search"]
    assert len(search["candidates"]) == 2 and all(c["status"] == "done" for c in search["candidates"])
    done = [c for c in search["candidates"] if c["accuracy_drop"] <= 1.0 and c["latency_ratio"] <= 1 / 1.05]
    if done:
        best = min(done, key=lambda c: c["latency_ratio"])
        assert search["best"] == best["name"] and (out / "best" / Path(best["model"]).name).exists()
    else:
        assert search["best"] is None and not (out / "best").exists()
    # report.json even when nothing won (it was missing then, though the command said it wrote one), and
    # report.md lists what was tried
    variants = {row["variant"] for row in json.loads((out / "report.json").read_text())["results"]}
    assert variants == ({"baseline", "int8"} if done else {"baseline"})
    markdown = (out / "report.md").read_text()
    assert "## Search: the fastest within 1.0 points of accuracy" in markdown
    assert all(f"| {c['name']} |" in markdown for c in search["candidates"])
    recipe = load_recipe(RECIPES / "text_transformer-dynamic-int8.yaml")
    lost = write_summary(out, recipe, [], {"search": {**search, "best": None}})  # the branch this run did not take
    assert lost is not None and {row.variant for row in lost.results} == {"baseline"}
    assert "best: none faster within budget; keep the input model" in (out / "report.md").read_text()


def test_a_search_out_of_time_starts_no_more_candidates_and_keeps_what_it_has(tmp_path: Path, cli) -> None:
    """A tuner must not run for hours and return nothing: --max-minutes bounds it, the record says what was
    left out, and the report is written all the same."""
    out = tmp_path / "auto"
    args = ["quantize", "tiny_cnn", "--weights", "random", "--auto", "--max-minutes", "0.001", "--no-tune-speed"]
    result = cli.invoke(app, [*args, "--max-samples", "16", "--batch-sizes", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    search = json.loads((out / "pipeline.json").read_text())["search"]
    statuses = [c["status"] for c in search["candidates"]]
    assert statuses == ["done", "not run", "not run", "not run"] and search["max_minutes"] == 0.001
    assert "the 0.001 minutes are spent" in result.stderr and "3 of 4 candidates not started" in result.stderr
    assert (
        "| not run: max_minutes 0.001 spent before it started (--resume runs it) |" in (out / "report.md").read_text()
    )
    # --resume runs the rest, under a budget of its own (a changed time budget is still the same recipe)
    args[args.index("0.001")] = "60"
    result = cli.invoke(app, [*args, "--max-samples", "16", "--batch-sizes", "1", "--resume", "-o", str(out)])
    assert result.exit_code == 0, result.output
    search = json.loads((out / "pipeline.json").read_text())["search"]
    assert [c["status"] for c in search["candidates"]] == ["done"] * 4 and search["max_minutes"] == 60


def test_rank_keeps_the_pareto_front_and_picks_only_a_real_speed_up() -> None:
    def candidate(name: str, metric: float, ratio: float, size: float) -> dict:
        drop = (0.9 - metric) * 100
        return {"name": name, "status": "done", "metric": metric, "latency_ratio": ratio, "size_mb": size,
                "accuracy_drop": drop, "reference_metric": 0.9, "input_size_mb": 10.0}  # fmt: skip

    a = candidate("fast-but-lossy", 0.80, 0.3, 2.0)
    b = candidate("fast-within", 0.895, 0.5, 3.0)
    c = candidate("dominated", 0.89, 0.6, 3.5)
    front, best = rank([a, b, c], budget=1.0)
    assert set(front) == {"input", "fast-but-lossy", "fast-within"} and best == "fast-within"
    assert rank([candidate("slower", 0.9, 1.2, 2.0)], budget=1.0)[1] is None
    assert rank([candidate("a tie", 0.9, 0.98, 2.0)], budget=1.0)[1] is None  # within noise: keep the input


def test_a_stage_is_ranked_by_its_head_to_head_verdict() -> None:
    base = ResultRow.model_validate(
        {"variant": "baseline", "precision": "fp32", "backend": "onnxruntime", "device": "cpu", "batch_size": 1,
         "artifact": None, "metrics": {"top1": 0.9}, "latency_ms": LatencyMs(p50=2.0, p90=2.0, p99=2.0), "fps": 500,
         "size_mb": 1.0, "params": None, "macs": None, "peak_memory_mb": None}
    )  # fmt: skip
    int8 = base.model_copy(update={"variant": "int8", "latency_ms": LatencyMs(p50=1.0, p90=1.0, p99=1.0)})
    verdict = {"variant": "int8", "reference": "baseline", "backend": "onnxruntime", "device": "cpu", "batch_size": 1}
    report = Report(
        model="m", task="classification", primary_metric="top1", dataset=DatasetInfo(name="shapes", samples=1),
        environment={}, results=[base, int8], verdicts=[{**verdict, "speedup": 1.25, "rounds": 5}],
    )  # fmt: skip
    assert _latency_ratio(report, base, int8) == 0.8  # the head to head, not the rows' 0.5
    report.verdicts = [{**verdict, "speedup": 2.0, "rounds": 0}]  # type: ignore[attr-defined]
    assert _latency_ratio(report, base, int8) == 0.5  # a verdict from the rows: the rows


def test_run_recipe_refuses_another_recipes_outdir(tmp_path: Path) -> None:
    path = _write(tmp_path, "model: tiny_cnn\nweights: random\nmax_samples: 16\nbatch_sizes: [1]\nstages: [bench]\n")
    out = tmp_path / "o"
    run_recipe(load_recipe(path), out)
    other = load_recipe(path, ["max_samples=8"])
    with pytest.raises(Exception, match="another recipe"):
        run_recipe(other, out, resume=True)


@pytest.mark.parametrize("method", [None, "static", "dynamic"])
def test_auto_quantize_tries_histogram_calibrations_as_static_int8(method: str | None) -> None:
    # a histogram calibration with dynamic int8 (text models' default) is refused, so --auto asks for static
    options = {"method": method, "calib_samples": 64, "tune_speed": True, "exclude": []}
    stages = [entry.stage for entry in auto_quantize_search(options, None, None).candidates]
    assert all(isinstance(stage, Quantize) for stage in stages)
    int8 = [(s.method, s.calibration) for s in stages if s.precision == "int8"]  # type: ignore[union-attr]
    histograms = [] if method == "dynamic" else [("static", "entropy"), ("static", "percentile")]
    assert int8 == [(method, "minmax"), *histograms]
    assert stages[-1].precision == "fp16"  # type: ignore[union-attr]


def test_a_stage_that_saves_no_model_cannot_hand_one_to_the_next(tmp_path: Path, cli) -> None:  # noqa: ANN001
    """bf16 of a model that is not a zoo name is measured but not saved: the bench after it got the fp32
    model without a word. Now the chain stops there, naming the stage."""
    source = tmp_path / "net.py"
    source.write_text(
        "from torch import nn\n"
        "def build(num_classes: int = 10) -> nn.Module:\n"
        "    return nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),\n"
        "                         nn.Linear(8, num_classes))\n"
    )
    text = f"model: {source}:build\nweights: random\nmax_samples: 16\nbatch_sizes: [1]\n"
    path = _write(tmp_path, text + "stages:\n  - quantize: {precision: bf16}\n  - bench\n")
    result = cli.invoke(app, ["run", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "stage 1 (quantize): bf16 of a model that is not a zoo name is measured, not saved" in result.output
    assert not (tmp_path / "out").exists()  # nothing half-written
    last = _write(tmp_path, text + "stages:\n  - quantize: {precision: bf16}\n")  # as the last stage it is fine
    assert cli.invoke(app, ["run", str(last), "-o", str(tmp_path / "last")]).exit_code == 0
