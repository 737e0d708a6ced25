"""`compress run`: a recipe's stages in order, each model in, model out, then its search.

Every stage writes into its own folder (OUTDIR/stages/NN-kind) and `pipeline.json` records each
finished stage at once, so `--resume` after an interruption starts at the first unfinished stage.
OUTDIR/report.json gathers the rows: the recipe's model as `baseline`, then each stage's output named
by the chain that made it (`pruned`, `pruned+distilled`, `pruned+distilled+int8`); each row keeps
the folder of the run that measured it (`stage`), where its same-run comparison is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compressor.core.errors import InputFileError
from compressor.core.files import make_folder, write_text_atomic
from compressor.pipeline.chain import ChainState, ChainStep, run_chain
from compressor.pipeline.recipe import Recipe
from compressor.pipeline.search import best_steps, run_search
from compressor.report.files import write_report
from compressor.report.schema import REFERENCE_VARIANTS, Report, ResultRow, busy_machine_note

PIPELINE_FILE = "pipeline.json"


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputFileError(f"{path} cannot be read ({error}); run again with --force to start over") from None
    if not isinstance(data, dict):
        raise InputFileError(f"{path} is not a pipeline record; run again with --force to start over")
    return data


def chain_rows(root: Path, steps: list[ChainStep]) -> tuple[Report | None, list[ResultRow]]:
    """The first measured report (for its header) and the rows of the chain: the reference rows of the
    first stage that measured anything as `baseline`, then each stage's output under the chain's name."""
    first: Report | None = None
    rows: list[ResultRow] = []
    names: list[str] = []
    for step in steps:
        if step.report is None:
            continue
        report = Report.model_validate_json((root / step.report).read_text())
        if first is None:
            first = report
            rows += [
                row.model_copy(update={"variant": "baseline", "stage": step.folder})
                for row in report.results
                if row.variant in REFERENCE_VARIANTS
            ]
        if step.kind == "bench":
            name = "+".join(names) or "baseline"
            label = f"{name} (bench)" if names else None
        else:
            names.append(step.variant or step.kind)
            label = "+".join(names)
        if label is None:
            continue
        rows += [
            row.model_copy(update={"variant": label, "stage": step.folder})
            for row in report.results
            if row.variant == step.variant
        ]
    return first, rows


def search_input_rows(root: Path, search: dict[str, Any]) -> tuple[Report | None, list[ResultRow]]:
    """The search's input model as the first measured candidate's run measured it: the summary's rows when
    no stage measured anything and no candidate won, so a CI gate still finds OUTDIR/report.json."""
    for candidate in search.get("candidates", []):
        for step in candidate.get("steps", []):
            if step.get("report"):
                first, rows = chain_rows(root, [ChainStep(**step)])
                return first, [row for row in rows if row.variant == "baseline"]
    return None, []


def write_summary(root: Path, recipe: Recipe, steps: list[ChainStep], extra: dict[str, Any]) -> Report | None:
    """OUTDIR/report.json (+ .md, .html): the chain's rows, and the pipeline record beside them."""
    first, rows = chain_rows(root, steps)
    if first is None:
        first, rows = search_input_rows(root, extra.get("search", {}))
    if first is None:
        return None
    summary = Report(
        model=recipe.model,
        task=first.task,
        primary_metric=first.primary_metric,
        dataset=first.dataset,
        environment=first.environment,
        results=rows,
        notes=[
            "rows come from the stage runs named in `stage`; compare latency within one stage's report "
            "(measured side by side), across stages only as a rough guide",
            *filter(None, [busy_machine_note(rows)]),
        ],
        pipeline=[step.as_dict() for step in steps],
        **extra,
    )
    write_report(summary, root / "report.json", root / "report.md")
    return summary


def _prepare(output_dir: Path, force: bool, resume: bool) -> dict[str, Any]:
    """The record of an earlier run to resume, or a fresh folder; never silently over an earlier run."""
    record_path = output_dir / PIPELINE_FILE
    if output_dir.exists() and not output_dir.is_dir():
        raise InputFileError(f"{output_dir} is a file; -o takes a directory")
    if record_path.exists() and resume:
        return read_json(record_path)
    if (record_path.exists() or (output_dir / "report.json").exists()) and not force:
        raise InputFileError(
            f"{output_dir} already holds a run ({PIPELINE_FILE}); pass --resume to continue it or --force to start over"
        )
    make_folder(output_dir)
    return {}


def _results_depend_on(recipe: dict[str, Any]) -> dict[str, Any]:
    """A recipe as its results depend on it: a search's time budget changes which candidates ran, not what
    one gives, so --resume may continue with more (or less) time."""
    search = recipe.get("search")
    if not isinstance(search, dict):
        return recipe
    return {**recipe, "search": {key: value for key, value in search.items() if key != "max_minutes"}}


def run_recipe(recipe: Recipe, output_dir: str | Path, force: bool = False, resume: bool = False) -> Report | None:
    """`compress run`: the stages, then the search; returns the summary report (None if nothing measured)."""
    root = Path(output_dir)
    earlier = _prepare(root, force, resume)
    written = recipe.model_dump(mode="json", by_alias=True, exclude_none=True)
    if earlier and _results_depend_on(earlier.get("recipe", {})) != _results_depend_on(written):
        raise InputFileError(f"{root} holds a run of another recipe; pass --force to start over")
    record: dict[str, Any] = {
        "schema": "compressor.pipeline/1",
        "recipe": written,
        "stages": [],
        "search": earlier.get("search", {}),
    }
    teacher = (recipe.model, recipe.weights)

    def save(state: ChainState) -> None:
        record["stages"] = [step.as_dict() for step in state.steps]
        write_text_atomic(root / PIPELINE_FILE, json.dumps(record, indent=2) + "\n")

    state = ChainState(recipe.model, recipe.weights, not recipe.model.endswith(".onnx"))
    state = run_chain(recipe.stages, state, recipe, root, root / "stages", earlier.get("stages", []), teacher, save)
    save(state)
    extra: dict[str, Any] = {}
    if recipe.search is not None:

        def save_search(search: dict[str, Any]) -> None:
            record["search"] = search
            write_text_atomic(root / PIPELINE_FILE, json.dumps(record, indent=2) + "\n")

        extra["search"] = run_search(recipe.search, state, recipe, root, record["search"], teacher, save_search)
        return write_summary(root, recipe, state.steps + best_steps(extra["search"]), extra)
    return write_summary(root, recipe, state.steps, extra)
