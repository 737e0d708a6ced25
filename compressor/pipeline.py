"""`compress run`: a recipe's stages in order, each model in, model out, then its search.

Every stage writes into its own folder (OUTDIR/stages/NN-kind) and `pipeline.json` records each
finished stage at once, so `--resume` after an interruption starts at the first unfinished stage.
OUTDIR/report.json gathers the rows: the recipe's model as `baseline`, then each stage's output named
by the chain that made it (`pruned`, `pruned+distilled`, `pruned+distilled+int8`); each row keeps
the folder of the run that measured it (`stage`), where its same-run comparison is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compressor.errors import InputFileError, OptionError
from compressor.fsutil import make_folder, write_text_atomic
from compressor.progress import info
from compressor.recipe import Recipe, StageEntry
from compressor.report import REFERENCE_VARIANTS, Report, ResultRow, busy_machine_note, write_report
from compressor.stages import RunOptions, StageResult

PIPELINE_FILE = "pipeline.json"


@dataclass
class ChainStep:
    """A finished stage as `pipeline.json` keeps it: enough to skip it on resume and to rebuild rows."""

    kind: str
    folder: str
    model_in: str
    model_out: str
    variant: str | None
    torch_model: bool
    report: str | None  # the stage's report.json, relative to OUTDIR

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ChainState:
    model: str
    weights: str | None
    torch_model: bool
    steps: list[ChainStep] = field(default_factory=list)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputFileError(f"{path} cannot be read ({error}); run again with --force to start over") from None
    if not isinstance(data, dict):
        raise InputFileError(f"{path} is not a pipeline record; run again with --force to start over")
    return data


def with_teacher(entry: StageEntry, teacher: str, teacher_weights: str | None) -> StageEntry:
    """A distill stage without a teacher learns from the recipe's own model."""
    stage = getattr(entry, "distill", None)
    if stage is None or stage.teacher is not None:
        return entry
    taught = stage.model_copy(update={"teacher": teacher, "teacher_weights": teacher_weights})
    return entry.model_copy(update={"distill": taught})


def run_chain(
    stages: list[StageEntry],
    state: ChainState,
    run: RunOptions,
    root: Path,
    folder: Path,
    done: list[dict[str, Any]],
    teacher: tuple[str, str | None],
    on_step: Any,
) -> ChainState:
    """Run `stages` from `state`, each into folder/NN-kind; `done` holds steps already finished (resume).
    `on_step(state)` is called after every stage, to record progress before the next one starts."""
    for index, entry in enumerate(stages):
        entry = with_teacher(entry, *teacher)
        stage_folder = folder / f"{index + 1:02d}-{entry.kind}"
        if index < len(done) and done[index].get("folder") == str(stage_folder.relative_to(root)):
            step = ChainStep(**done[index])
            info(f"{entry.kind}: done in an earlier run ({step.folder}), skipped")
        else:
            info(f"stage {index + 1}/{len(stages)}: {entry.kind} on {state.model}")
            result: StageResult = entry.stage.run(state.model, state.weights, run, stage_folder, True)
            if result.unsaved and index + 1 < len(stages):  # the next stage would get this stage's input
                raise OptionError(
                    f"stage {index + 1} ({entry.kind}): {result.unsaved}, so stage {index + 2} has no model to "
                    f"take; make it the last stage"
                )
            report_path = stage_folder / "report.json"
            step = ChainStep(
                kind=entry.kind,
                folder=str(stage_folder.relative_to(root)),
                model_in=state.model,
                model_out=result.model,
                variant=result.variant,
                torch_model=state.torch_model if result.torch_model is None else result.torch_model,
                report=str(report_path.relative_to(root)) if result.report is not None else None,
            )
        if step.model_out != state.model:
            state.weights = None  # the stage's file carries its own weights
        state.model, state.torch_model = step.model_out, step.torch_model
        state.steps.append(step)
        on_step(state)
    return state


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
    from compressor.search import best_steps, run_search

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
