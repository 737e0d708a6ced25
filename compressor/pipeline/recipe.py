"""Recipes: a model, run options, a list of stages and an optional search, read from YAML and checked
in full before anything runs.

A mistake is reported with the line of the YAML it sits on ("recipe.yaml line 7: stages.1: unknown
stage 'quantise'; ..."), so a typo costs seconds, not the hour the stages before it would have taken.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails

from compressor.core.errors import InputFileError, OptionError
from compressor.methods.configs import BackendName, Prune, Quantize
from compressor.pipeline.stages import RunOptions, stage_kinds

RECIPE_SCHEMA = "compressor.recipe/1"


class StageEntry(BaseModel):
    """One stage as written in YAML: `- quantize: {precision: int8}` (a bare `- bench` for no options).
    `kind` is looked up among the registered methods and the export and bench stages."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: str
    stage: Any  # the kind's options: a MethodConfig or a Stage

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if isinstance(data, StageEntry):
            return data
        if isinstance(data, str):
            data = {data: {}}
        if not isinstance(data, dict) or set(data) == {"kind", "stage"}:
            return data  # not a stage at all: pydantic says so (a candidate may be a list of stages instead)
        kinds = stage_kinds()
        if len(data) != 1:
            raise ValueError(f"a stage is exactly one of {', '.join(kinds)} with its options")
        kind, options = next(iter(data.items()))
        if kind not in kinds:
            raise ValidationError.from_exception_data(
                "StageEntry", [InitErrorDetails(type="extra_forbidden", loc=(kind,), input=options)]
            )
        try:
            stage = kinds[kind].model_validate({} if options is None else options)
        except ValidationError as error:
            details = [
                InitErrorDetails(type=e["type"], loc=(kind, *e["loc"]), input=e["input"], ctx=e.get("ctx", {}))
                for e in error.errors()
            ]
            raise ValidationError.from_exception_data("StageEntry", details) from None
        try:
            stage.check()
        except OptionError as error:
            raise ValueError(f"{kind}: {error}") from None
        return {"kind": kind, "stage": stage}

    @model_serializer(mode="wrap")
    def _write(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        options = handler(self)["stage"]
        # What the kind's class requires is written even where a subclass defaults it (Int8's precision).
        kind_class = stage_kinds()[self.kind]
        for name in [name for name, field in kind_class.model_fields.items() if field.is_required()]:
            options.setdefault(name, getattr(self.stage, name))
        return {self.kind: options}


class SearchSpec(BaseModel):
    """Candidates measured one by one on the model the stages produced; the fastest within the accuracy
    budget wins. `candidates` lists stages (or chains of stages) as written; `grid` expands one stage
    kind's option lists into every combination."""

    model_config = ConfigDict(extra="forbid")

    max_accuracy_drop: NonNegativeFloat = 1.0  # points of the primary metric, against the search's input
    backend: BackendName = "onnxruntime"  # whose latency ranks the candidates
    batch_size: PositiveInt = 1
    # wall clock: once spent, no further candidate starts; the best so far stands (a search returns something)
    max_minutes: PositiveFloat | None = None
    candidates: list[StageEntry | list[StageEntry]] = Field(default_factory=list)
    grid: dict[str, dict[str, list[Any]]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> SearchSpec:
        if not self.candidates and not self.grid:
            raise ValueError("a search needs `candidates` or a `grid`")
        unknown = [kind for kind in self.grid if kind not in stage_kinds()]
        if unknown:
            raise ValueError(f"grid: unknown stage {unknown[0]!r}; choose from {', '.join(stage_kinds())}")
        self.chains()  # every grid combination is a valid stage
        return self

    def chains(self) -> list[list[StageEntry]]:
        """Every candidate as a chain of stages, the listed ones first, then the grid's in order."""
        chains = [list(c) if isinstance(c, list) else [c] for c in self.candidates]
        for kind, options in self.grid.items():
            keys = list(options)
            for values in itertools.product(*(options[key] for key in keys)):
                chains.append([StageEntry.model_validate({kind: dict(zip(keys, values, strict=True))})])
        return chains


class Recipe(RunOptions):
    """A pipeline: `model` (with `weights`) through `stages` in order, then `search` if present."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["compressor.recipe/1"] = Field(default=RECIPE_SCHEMA, alias="schema")
    model: str
    stages: list[StageEntry] = Field(default_factory=list)
    search: SearchSpec | None = None

    @model_validator(mode="after")
    def _check(self) -> Recipe:
        if not self.stages and self.search is None:
            raise ValueError("a recipe needs `stages`, a `search`, or both")
        after_stages = check_chain(self.stages, not self.model.endswith(".onnx"))
        for chain in self.search.chains() if self.search else []:
            check_chain(chain, *after_stages)
        return self

    def dump(self) -> str:
        """The recipe as YAML: what `--dump-recipe` prints and what `compress run` reads back."""
        data = self.model_dump(
            mode="json", by_alias=True, exclude_defaults=True, exclude_none=True, exclude={"schema_"}
        )
        return yaml.safe_dump({"schema": RECIPE_SCHEMA, **data}, sort_keys=False)


def check_chain(stages: list[StageEntry], torch_model: bool, quantized: bool = False) -> tuple[bool, bool]:
    """A stage that needs a torch model may not follow one that leaves ONNX (quantize, ONNX export), and
    a model is quantized once. Returns whether the chain ends on a torch model, and on a quantized one."""
    for index, entry in enumerate(stages):
        if entry.stage.needs_torch and not torch_model:
            raise ValueError(f"stage {index} ({entry.kind}) needs a torch model, but the model is ONNX by then")
        if entry.kind == "quantize" and quantized:
            raise ValueError(f"stage {index} (quantize) follows another quantize; the model is quantized already")
        quantized = quantized or entry.kind == "quantize"
        torch_model = entry.stage.leaves_torch(torch_model)
    return torch_model, quantized


def _line_of(root: yaml.Node | None, location: tuple[Any, ...]) -> int | None:
    """The 1-based YAML line of the node at a pydantic error location (as deep as the YAML goes)."""
    node, line = root, None
    for key in location:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((value for name, value in node.value if name.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
    return node.start_mark.line + 1 if node is not None else line


def _describe(error: ValidationError, root: yaml.Node | None, source: str) -> str:
    errors = error.errors()
    # a candidate is a stage or a list of them: the branch whose type the YAML has tells what is wrong
    first = next((e for e in errors if e["type"] not in ("model_type", "list_type")), errors[0])
    # drop the union members pydantic names in locations: list[StageEntry], function-after[_one_kind(), ...]
    location = tuple(part for part in first["loc"] if "[" not in str(part) and part != "StageEntry")
    message = first["msg"].removeprefix("Value error, ")
    stage_number = re.match(r"stage (\d+) ", message)
    if not location and stage_number:  # a chain problem: point at the stage itself
        location = ("stages", int(stage_number.group(1)))
    if first["type"] == "extra_forbidden":
        is_stage = len(location) >= 2 and isinstance(location[-2], int)
        choices = f"; choose from {', '.join(stage_kinds())}" if is_stage else ""
        message = f"unknown {'stage' if is_stage else 'key'} {location[-1]!r}{choices}"
    line = _line_of(root, location)
    where = ".".join(str(part) for part in location)
    return f"{source}{f' line {line}' if line else ''}: {where + ': ' if where else ''}{message}"


def recipe_from_data(data: Any, source: str = "recipe", root: yaml.Node | None = None) -> Recipe:
    if not isinstance(data, dict):
        raise OptionError(f"{source}: a recipe is a YAML mapping (model:, stages:, ...)")
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        raise OptionError(_describe(error, root, source)) from None


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """`key.path=value` (YAML value) onto the recipe's data: `--set stages.0.prune.sparsity=0.5`."""
    for override in overrides:
        path, separator, text = override.partition("=")
        if not separator or not path:
            raise OptionError(f"--set takes KEY=VALUE (e.g. stages.0.quantize.calibration=entropy), got {override!r}")
        keys = path.split(".")
        target: Any = data
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) and key.isdigit() else target.setdefault(key, {})
            if isinstance(target, str):  # a bare stage name given options
                raise OptionError(f"--set {path}: {key} has no options to set")
        last = keys[-1]
        value = yaml.safe_load(text)
        if isinstance(target, list) and last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return data


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, override and validate a recipe file; every problem is one line naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"recipe {path} not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise InputFileError(f"{path}{where}: {problem}") from None
    if overrides:
        if not isinstance(data, dict):
            raise OptionError(f"{path}: a recipe is a YAML mapping (model:, stages:, ...)")
        try:
            data = apply_overrides(data, overrides)
        except (IndexError, KeyError, TypeError, AttributeError) as error:
            raise OptionError(f"--set: {error} does not name a place in {path}") from None
    return recipe_from_data(data, str(path), root)


HISTOGRAM_CALIBRATIONS = ("entropy", "percentile")
AUTO_SPARSITIES = (0.25, 0.5, 0.75)


def auto_quantize_search(options: dict[str, Any], budget: float | None, max_minutes: float | None) -> SearchSpec:
    """`compress quantize --auto`: int8 as the task does it by default (min/max ranges where static), int8
    static with each histogram calibration (text models too; not when --method dynamic is asked), then fp16."""
    histograms = () if options.get("method") == "dynamic" else HISTOGRAM_CALIBRATIONS
    static = {**options, "method": "static"}
    int8 = [StageEntry(quantize=Quantize(precision="int8", **options))]
    int8 += [StageEntry(quantize=Quantize(precision="int8", calibration=c, **static)) for c in histograms]
    fp16 = StageEntry(quantize=Quantize(precision="fp16"))
    budget = 1.0 if budget is None else budget
    return SearchSpec(max_accuracy_drop=budget, max_minutes=max_minutes, candidates=[*int8, fp16])


def auto_prune_search(options: dict[str, Any], budget: float, max_minutes: float | None) -> SearchSpec:
    """`compress prune --auto`: a few sparsities, with the fine-tuning options given."""
    candidates = [StageEntry(prune=Prune(sparsity=level, **options)) for level in AUTO_SPARSITIES]
    return SearchSpec(max_accuracy_drop=budget, max_minutes=max_minutes, candidates=candidates)
