"""Commands as recipes: one-stage recipes printed by --dump-recipe or run, and `compress run`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from compressor.cli.app import stdout, user_errors
from compressor.cli.options import (
    DumpRecipeOpt,
    ForceOpt,
    MaxSamplesOpt,
    OutDirOpt,
    SearchResumeOpt,
    image_size_pair,
    int_list,
)
from compressor.core.errors import OptionError
from compressor.core.files import removed_on_failure
from compressor.report.schema import Report, to_markdown

# The library is imported only by the commands that use it, so `--help` and option errors answer at once.
if TYPE_CHECKING:
    from compressor.pipeline.recipe import Recipe
    from compressor.pipeline.stages import StageOptions


StageT = TypeVar("StageT", bound="StageOptions")


def refuse_alongside_auto(given: dict[str, object]) -> None:
    """--auto chooses these itself; a value the user also gave would otherwise be ignored without a word."""
    named = [flag for flag, value in given.items() if value is not None]
    if named:
        raise OptionError(f"--auto tries its own candidates; drop {' and '.join(named)} or drop --auto")


def auto_time_limit(auto: bool, max_minutes: float | None) -> float | None:
    """--max-minutes bounds an --auto search: without --auto it would be ignored without a word."""
    if max_minutes is not None and not auto:
        raise OptionError("--max-minutes bounds an --auto search; add --auto or drop --max-minutes")
    if max_minutes is not None and max_minutes <= 0:
        raise OptionError(f"--max-minutes must be above 0, not {max_minutes:g}")
    return max_minutes


def run_options(
    device: str, batch_sizes: str, max_samples: int | None, image_size: str | None, force: bool, fit: str | None = None
) -> dict[str, Any]:
    """The measuring and OUTDIR options that quantize, prune and distill share, parsed for the library."""
    return {
        "device": device,
        "batch_sizes": int_list(batch_sizes, "--batch-sizes"),
        "max_samples": max_samples,
        "image_size": image_size_pair(image_size),
        "fit": fit,
        "force": force,
    }


def print_written(report: Report, output: Path) -> None:
    stdout.print(to_markdown(report), soft_wrap=True)
    stdout.print(f"wrote {output}/ (report.json, report.md and the models)")


def run_spec(
    data: str,
    weights: str | None,
    image_size: str | None,
    device: str,
    batch_sizes: str,
    max_samples: int | None,
    fit: str | None = None,
) -> dict[str, Any]:
    """The recipe's run options from the shared flags."""
    batches = int_list(batch_sizes, "--batch-sizes")
    size = image_size_pair(image_size)
    options = {"data": data, "weights": weights, "image_size": size, "device": device, "batch_sizes": batches}
    return {**options, "max_samples": max_samples, **({"fit": fit} if fit else {})}


def stage_from(kind: type[StageT], **options: Any) -> StageT:
    try:
        return kind(**options)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise OptionError(f"--{where.replace('_', '-')}: {first['msg']}, not {first.get('input')!r}") from None


def dump_or_run_stage(
    kind: str, stage: StageOptions, model: str, run: dict[str, Any], output: Path, force: bool, dump: bool
) -> None:
    """One verb, one stage: print it as a recipe, or run it here and print the report."""
    from compressor.pipeline.recipe import Recipe, StageEntry
    from compressor.pipeline.stages import run_stage

    stage.check()  # its own words (--sparsity ...), before the recipe wraps them
    try:
        recipe = Recipe(model=model, stages=[StageEntry(**{kind: stage})], **run)
    except ValidationError as error:
        raise OptionError(" ".join(error.errors()[0]["msg"].split())) from None
    if dump:
        stdout.print(recipe.dump(), end="", soft_wrap=True)
        return
    with removed_on_failure(output):
        result = run_stage(stage, model, recipe.weights, recipe, output, force)
    assert result.report is not None
    print_written(result.report, output)


def dump_or_run(recipe: Recipe, output: Path, force: bool, dump: bool, resume: bool = False) -> None:
    """A whole recipe (or an --auto search): print it, or run it into OUTDIR."""
    from compressor.pipeline.run import run_recipe

    if dump:
        stdout.print(recipe.dump(), end="", soft_wrap=True)
        return
    with removed_on_failure(output):
        summary = run_recipe(recipe, output, force=force, resume=resume)
    if summary is not None:
        stdout.print(to_markdown(summary), soft_wrap=True)
    search = getattr(summary, "search", None) if summary is not None else None
    if search is not None:
        best = search["best"]
        stdout.print(f"search: best {best} (copied to {output}/best/)" if best else "search: nothing within budget")
    reports = "report.json, report.md, " if summary is not None else ""
    stdout.print(f"wrote {output}/ (pipeline.json, {reports}and each stage's folder)")


@user_errors
def run_command(
    recipe_path: Annotated[Path, typer.Argument(metavar="RECIPE", help="A recipe YAML file (see recipes/).")],
    output: OutDirOpt,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="KEY=VALUE over the recipe, e.g. stages.0.quantize.calibration=entropy."),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Run the recipe on this model instead.")] = None,
    data: Annotated[str | None, typer.Option(help="Run the recipe on this dataset instead.")] = None,
    max_samples: MaxSamplesOpt = None,
    force: ForceOpt = False,
    resume: SearchResumeOpt = False,
    dump_recipe: DumpRecipeOpt = False,
) -> None:
    """Run a recipe: its stages in order (each model in, model out), then its search, into OUTDIR."""
    from compressor.pipeline.recipe import load_recipe

    given = {"model": model, "data": data, "max_samples": max_samples}
    sets = [f"{key}={value}" for key, value in given.items() if value is not None] + list(overrides or [])
    dump_or_run(load_recipe(recipe_path, sets), output, force, dump_recipe, resume)
