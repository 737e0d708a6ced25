"""The stages of a recipe and how each runs: model in (a zoo name or a path), model out (the path it wrote).

A method's stage is its options class (`methods.configs`, or a plug-in's); export and bench are
stages of their own. The CLI verbs build the same objects, so a recipe and a command line never
disagree on what an option means, and `--dump-recipe` is the stage written out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PositiveInt,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from compressor import api, commands
from compressor.commands.common import refuse_earlier_results
from compressor.core.errors import OptionError
from compressor.core.files import make_folder
from compressor.core.image_size import ImageSize, parse_image_size
from compressor.data import load_dataset
from compressor.exporters.configs import TARGETS, ExportConfig, Jetson, Onnx, OpenVino, TensorRT
from compressor.methods.configs import BackendName, Distill, MethodConfig, Prune, Quantize
from compressor.methods.quantize import Int8Request
from compressor.methods.registry import stage_kinds as stage_kinds_of_methods
from compressor.report.files import write_report
from compressor.report.schema import Report
from compressor.training.checkpoints import load_or_train


def _image_size(value: Any) -> ImageSize | None:
    try:
        return parse_image_size(value, "image_size")
    except OptionError as error:
        raise ValueError(str(error)) from None


def _written_image_size(size: ImageSize) -> int | list[int]:
    return size[0] if size[0] == size[1] else list(size)


RecipeImageSize = Annotated[ImageSize, BeforeValidator(_image_size), PlainSerializer(_written_image_size)]


class RunOptions(BaseModel):
    """What every stage shares: the data, where the model runs and how it is measured."""

    model_config = ConfigDict(extra="forbid")

    data: str = "shapes"
    weights: str | None = None  # for the recipe's first model only; later stages read their own files
    image_size: RecipeImageSize | None = None  # (height, width); a recipe writes S or [H, W]
    fit: Literal["crop", "squash", "letterbox"] | None = None  # how image files become the input
    device: Literal["cpu", "cuda"] = "cpu"
    batch_sizes: list[PositiveInt] = Field(default_factory=lambda: [1, 16], min_length=1)
    max_samples: PositiveInt | None = None

    def measured(self, force: bool) -> dict[str, object]:
        """The keyword arguments of the measuring api functions."""
        size = self.image_size
        return {
            "device": self.device,
            "batch_sizes": list(self.batch_sizes),
            "max_samples": self.max_samples,
            "image_size": size,
            "fit": self.fit,
            "force": force,
        }


@dataclass
class StageResult:
    model: str  # what the next stage takes: the file this stage wrote, or its input unchanged
    report: Report | None
    variant: str | None  # the report row of this stage's output (None when it measured nothing new)
    torch_model: bool | None = None  # whether `model` is now a torch model; None: as it was
    unsaved: str | None = None  # why the measured output has no file (`model` is then the stage's input)


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    needs_torch: ClassVar[bool] = False  # prune, distill and export start from a torch model

    def run(self, model: str, weights: str | None, run: RunOptions, output_dir: Path, force: bool) -> StageResult:
        raise NotImplementedError  # every kind below defines it; Stage itself is never in a recipe

    def check(self) -> None:
        """Option values and combinations the field types cannot express, raised as OptionError when the
        recipe is read, so a bad third stage is found before the first two have run. None by default."""

    def leaves_torch(self, torch_in: bool) -> bool:
        """Whether the model it passes on is a torch model, given whether its input was."""
        return torch_in


# Export targets that write one file into the stage's folder: its name, and the verb that writes it.
FILE_TARGETS: dict[type[ExportConfig], tuple[str, str]] = {
    TensorRT: ("model.engine", "export_tensorrt"),
    OpenVino: ("model.xml", "export_openvino"),
}


class ExportStage(Stage, Jetson, TensorRT, Onnx):
    """`format` picks the target; its options are those of `Onnx`, `TensorRT` and `Jetson`. ONNX passes the
    model on as ONNX; an engine or a bundle is an end product, so the stage passes its input on unchanged."""

    needs_torch: ClassVar[bool] = True

    format: Literal["onnx", "openvino", "tensorrt", "jetson"] = "onnx"
    precision: Literal["fp32", "fp16", "int8"] | None = None  # None: the format's default (fp32; jetson int8)

    @model_serializer(mode="wrap")
    def _format_first(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        options = handler(self)
        first = [key for key in ("format", "precision") if key in options]
        return {**{key: options[key] for key in first}, **options}

    def target(self) -> ExportConfig:
        """The options of `format` alone, as `cz.export` takes them."""
        kind = TARGETS[self.format]
        given = self.model_dump(include=set(kind.model_fields), exclude_none=True)
        return kind(**given)

    def leaves_torch(self, torch_in: bool) -> bool:
        return torch_in and self.format != "onnx"

    def check(self) -> None:
        self.target().check()

    def run(self, model: str, weights: str | None, run: RunOptions, output_dir: Path, force: bool) -> StageResult:
        size = run.image_size
        target = self.target()
        if isinstance(target, Jetson):
            target = target.model_copy(update={"max_samples": target.max_samples or run.max_samples})
            commands.export_jetson(
                model, output_dir, target, data=run.data, weights=weights, image_size=size, fit=run.fit, force=force
            )
            return StageResult(model, None, None)
        make_folder(output_dir)
        if type(target) in FILE_TARGETS:  # an end product: the stage passes its input on
            file_name, verb = FILE_TARGETS[type(target)]
            getattr(commands, verb)(
                model, output_dir / file_name, target, data=run.data, weights=weights, image_size=size, fit=run.fit,
                force=force,
            )  # fmt: skip
            return StageResult(model, None, None)
        onnx_file = output_dir / "model.onnx"
        commands.export(
            model,
            onnx_file,
            target,
            data=run.data,
            weights=weights,
            image_size=size,
            fit=run.fit,
            force=force,  # type: ignore[arg-type]
        )
        return StageResult(str(onnx_file), None, None, False)


class BenchStage(Stage):
    backends: list[BackendName] | None = None
    profile: bool = False  # onnxruntime's kernel time by op type (`op_profile`)

    def run(self, model: str, weights: str | None, run: RunOptions, output_dir: Path, force: bool) -> StageResult:
        options = run.measured(force)
        del options["force"]
        report = commands.bench(
            model, data=run.data, weights=weights, backends=self.backends, profile=self.profile, **options
        )  # type: ignore[arg-type]
        write_report(report, output_dir / "report.json", output_dir / "report.md")
        return StageResult(model, report, "baseline")


StageOptions = Stage | MethodConfig  # what a recipe stage holds: a method's options, or export or bench
OTHER_STAGES: dict[str, type[Stage]] = {"export": ExportStage, "bench": BenchStage}


def stage_kinds() -> dict[str, type[StageOptions]]:
    """Recipe stage name -> its options class: every registered method, then export and bench."""
    return {**stage_kinds_of_methods(), **OTHER_STAGES}


StageRunner = Callable[[Any, str, "str | None", RunOptions, Path, bool], StageResult]


def _run_quantize(
    config: Quantize, model: str, weights: str | None, run: RunOptions, output_dir: Path, force: bool
) -> StageResult:
    request = Int8Request.of(config, max_samples=run.max_samples)
    report = commands.quantize(
        model, output_dir, config.precision, data=run.data, weights=weights, int8=request, backends=config.backends,
        **run.measured(force),
    )  # fmt: skip
    written = output_dir / ("model.bf16.pt" if config.precision == "bf16" else f"model.{config.precision}.onnx")
    if not written.exists():
        unsaved = f"{config.precision} of a model that is not a zoo name is measured, not saved"
        return StageResult(model, report, config.precision, unsaved=unsaved)
    return StageResult(str(written), report, config.precision, config.precision == "bf16")


def _run_prune(
    config: Prune, model: str, weights: str | None, run: RunOptions, output_dir: Path, force: bool
) -> StageResult:
    report = commands.prune(
        model, output_dir, config, data=run.data, weights=weights, lr=config.lr, backends=config.backends,
        **run.measured(force),
    )  # fmt: skip
    pruned = output_dir / "model.pruned.pt"  # a Hugging Face model: the model directory model.pruned/
    return StageResult(str(pruned if pruned.exists() else output_dir / "model.pruned"), report, "pruned", True)


def _run_distill(
    config: Distill, model: str, weights: str | None, run: RunOptions, output_dir: Path, force: bool
) -> StageResult:
    if not isinstance(config.teacher, str):
        raise ValueError("the pipeline sets the teacher before running a distill stage")
    report = commands.distill(model, output_dir, config, data=run.data, student_weights=weights, **run.measured(force))
    distilled = output_dir / "distilled.pt"
    return StageResult(str(distilled if distilled.exists() else output_dir / "distilled"), report, "distilled", True)


def _run_method(
    config: MethodConfig, model: str, weights: str | None, run: RunOptions, output_dir: Path, force: bool
) -> StageResult:
    """A method without a verb of its own (a plug-in's): the model loaded, compressed, measured beside its
    input, the report and the compressed model written to `output_dir`."""
    refuse_earlier_results(output_dir, force)
    bundle = load_dataset(run.data)
    size = run.image_size
    handle = load_or_train(model, bundle, weights=weights, image_size=size, fit=run.fit)
    make_folder(output_dir)
    compressed = api.compress(handle, config, bundle, output_dir / "work")
    name = config.variant_name()
    report = api.measure(
        {"baseline": handle, name: compressed}, bundle, backends=config.backends, device=run.device,
        batch_sizes=run.batch_sizes, max_samples=run.max_samples,
    )  # fmt: skip
    report.write(output_dir)
    saved = api.save(compressed, output_dir / f"model.{name}{'.pt' if compressed.module is not None else '.onnx'}")
    return StageResult(str(saved), report, name, compressed.module is not None)


VERB_STAGES: dict[type[MethodConfig], StageRunner] = {Quantize: _run_quantize, Prune: _run_prune, Distill: _run_distill}


def run_stage(
    stage: StageOptions, model: str, weights: str | None, run: RunOptions, output_dir: Path, force: bool
) -> StageResult:
    """Run one stage on `model` into `output_dir`: a built-in method through its verb, a plug-in's method
    through `cz.compress` and `cz.measure`, export and bench as themselves."""
    if isinstance(stage, Stage):
        return stage.run(model, weights, run, output_dir, force)
    runner = next((VERB_STAGES[cls] for cls in type(stage).__mro__ if cls in VERB_STAGES), _run_method)
    return runner(stage, model, weights, run, output_dir, force)
