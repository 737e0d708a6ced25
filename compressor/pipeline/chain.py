"""A chain of stages run in order, each taking the model the one before it wrote: a recipe's `stages`,
and each candidate of its search."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compressor.core.errors import OptionError
from compressor.core.progress import info
from compressor.pipeline.recipe import StageEntry
from compressor.pipeline.stages import RunOptions, run_stage


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


def with_teacher(entry: StageEntry, teacher: str, teacher_weights: str | None) -> StageEntry:
    """A distill stage without a teacher learns from the recipe's own model."""
    if entry.kind != "distill" or entry.stage.teacher is not None:
        return entry
    taught = entry.stage.model_copy(update={"teacher": teacher, "teacher_weights": teacher_weights})
    return entry.model_copy(update={"stage": taught})


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
            result = run_stage(entry.stage, state.model, state.weights, run, stage_folder, True)
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
