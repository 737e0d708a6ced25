"""The pipeline stages (prune, distill, quantize, export, bench) as validated option sets.

Each stage is a pydantic model whose fields are the options of the `compress` verb of the same name,
and `run` calls that verb's library function: model in (a zoo name or a path), model out (the path it
wrote). The CLI verbs build the same objects, so a recipe and a command line can never disagree on
what an option means, and `--dump-recipe` is just the stage written out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveInt

from compressor import commands
from compressor.core.files import make_folder
from compressor.export.jetson import check_jetson_options
from compressor.export.tensorrt import BatchProfile
from compressor.methods.prune_options import PruneRequest
from compressor.methods.quantize import Int8Request
from compressor.report.files import write_report
from compressor.report.schema import Report
from compressor.runtime import backend_names
from compressor.training.distillation import parse_feature_pairs


def _known_backend(name: str) -> str:
    if name not in backend_names():
        raise ValueError(f"unknown backend {name!r}; choose from {', '.join(backend_names())}")
    return name


BackendName = Annotated[str, AfterValidator(_known_backend)]  # a registered backend (`runtime.registry`)


class RunOptions(BaseModel):
    """What every stage shares: the data, where the model runs and how it is measured."""

    model_config = ConfigDict(extra="forbid")

    data: str = "shapes"
    weights: str | None = None  # for the recipe's first model only; later stages read their own files
    image_size: PositiveInt | None = None
    device: Literal["cpu", "cuda"] = "cpu"
    batch_sizes: list[PositiveInt] = Field(default_factory=lambda: [1, 16], min_length=1)
    max_samples: PositiveInt | None = None

    def measured(self, force: bool) -> dict[str, object]:
        """The keyword arguments of the measuring api functions."""
        size = (self.image_size, self.image_size) if self.image_size else None
        return {
            "device": self.device,
            "batch_sizes": list(self.batch_sizes),
            "max_samples": self.max_samples,
            "image_size": size,
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


class QuantizeStage(Stage):
    precision: Literal["int8", "fp16", "bf16"]
    method: Literal["static", "dynamic"] | None = None
    calibration: Literal["minmax", "entropy", "percentile"] = "minmax"
    calib_samples: PositiveInt = 256
    exclude: list[str] = Field(default_factory=list)
    max_accuracy_drop: NonNegativeFloat | None = None
    tune_speed: bool = True
    backends: list[BackendName] | None = None  # None: torch and onnxruntime, where the variant runs there

    def run(self, model: str, weights: str | None, run: RunOptions, output_dir: Path, force: bool) -> StageResult:
        request = Int8Request(
            method=self.method,
            calibration=self.calibration,
            calib_samples=self.calib_samples,
            exclude=tuple(self.exclude),
            max_accuracy_drop=self.max_accuracy_drop,
            max_samples=run.max_samples,
            tune_speed=self.tune_speed,
        )
        report = commands.quantize(
            model, output_dir, self.precision, data=run.data, weights=weights, int8=request, backends=self.backends,
            **run.measured(force),
        )  # fmt: skip
        written = output_dir / ("model.bf16.pt" if self.precision == "bf16" else f"model.{self.precision}.onnx")
        if not written.exists():
            unsaved = f"{self.precision} of a model that is not a zoo name is measured, not saved"
            return StageResult(model, report, self.precision, unsaved=unsaved)
        return StageResult(str(written), report, self.precision, self.precision == "bf16")


class PruneStage(Stage):
    needs_torch: ClassVar[bool] = True
    sparsity: float | None = None
    threshold: NonNegativeFloat | None = None
    structured: bool = True
    pattern: Literal["2:4"] | None = None
    norm: Literal["l1", "l2"] = "l2"
    global_ranking: bool = False
    ignore: list[str] = Field(default_factory=list)
    round_to: PositiveInt = 16
    steps: PositiveInt = 1
    finetune_epochs: NonNegativeInt = 0
    distill: bool = False
    residual_width: bool = False
    whole_heads: bool = False
    lr: NonNegativeFloat | None = None
    backends: list[BackendName] | None = None  # None: torch and onnxruntime

    def request(self) -> PruneRequest:
        options = self.model_dump(exclude={"lr", "ignore", "backends"})
        return PruneRequest(**options, ignore=tuple(self.ignore))

    def check(self) -> None:
        self.request().check()

    def run(self, model: str, weights: str | None, run: RunOptions, output_dir: Path, force: bool) -> StageResult:
        report = commands.prune(
            model, output_dir, self.request(), data=run.data, weights=weights, lr=self.lr, backends=self.backends,
            **run.measured(force),
        )  # fmt: skip
        pruned = output_dir / "model.pruned.pt"  # a Hugging Face model: the model directory model.pruned/
        return StageResult(str(pruned if pruned.exists() else output_dir / "model.pruned"), report, "pruned", True)


class DistillStage(Stage):
    """Trains the model that enters the stage (its own weights; a zoo name starts from the recipe's `weights`,
    random without) against a teacher: by default the recipe's original model, so a pruned model recovers
    what pruning cost."""

    needs_torch: ClassVar[bool] = True
    teacher: str | None = None  # None: the recipe's model (with the recipe's weights)
    teacher_weights: str | None = None
    epochs: PositiveInt = 5
    temperature: float = Field(default=4.0, gt=0)
    alpha: float = Field(default=0.7, ge=0, le=1)
    feature_pairs: list[str] = Field(default_factory=list)
    feature_weight: NonNegativeFloat = 1.0
    compare_scratch: bool = False
    lr: NonNegativeFloat | None = None
    seed: int = 0
    backends: list[BackendName] | None = None  # None: torch and onnxruntime

    def check(self) -> None:
        parse_feature_pairs(self.feature_pairs)

    def run(self, model: str, weights: str | None, run: RunOptions, output_dir: Path, force: bool) -> StageResult:
        if self.teacher is None:
            raise ValueError("the pipeline sets the teacher before running a distill stage")
        report = commands.distill(
            self.teacher,
            model,
            output_dir,
            data=run.data,
            teacher_weights=self.teacher_weights,
            epochs=self.epochs,
            temperature=self.temperature,
            alpha=self.alpha,
            feature_pairs=self.feature_pairs,
            feature_weight=self.feature_weight,
            compare_scratch=self.compare_scratch,
            lr=self.lr,
            seed=self.seed,
            student_weights=weights,
            backends=self.backends,
            **run.measured(force),
        )
        distilled = output_dir / "distilled.pt"
        return StageResult(
            str(distilled if distilled.exists() else output_dir / "distilled"), report, "distilled", True
        )


class ExportStage(Stage):
    """ONNX passes the model on as ONNX; a TensorRT engine or a Jetson bundle is an end product, so the
    stage passes its input on unchanged."""

    needs_torch: ClassVar[bool] = True

    format: Literal["onnx", "tensorrt", "jetson"] = "onnx"
    precision: Literal["fp32", "fp16", "int8"] | None = None
    opset: int | None = Field(default=None, ge=17)
    jetpack: str = "6.2"
    batch_size: PositiveInt = 1
    max_batch: PositiveInt = 32
    calibration: Literal["minmax", "entropy", "percentile"] = "minmax"
    calib_samples: PositiveInt = 256
    raw_pixels: bool = False  # the model takes pixels 0-255 and normalises them inside (`pixel_input`)

    def check(self) -> None:
        if self.format == "jetson":
            check_jetson_options(self.precision or "int8", self.jetpack, self.batch_size)

    def run(self, model: str, weights: str | None, run: RunOptions, output_dir: Path, force: bool) -> StageResult:
        size = (run.image_size, run.image_size) if run.image_size else None
        int8 = Int8Request(calibration=self.calibration, calib_samples=self.calib_samples)
        if self.format == "jetson":
            commands.export_jetson(
                model, output_dir, self.precision or "int8", data=run.data, weights=weights, image_size=size,
                jetpack=self.jetpack, batch_size=self.batch_size, int8=int8, max_samples=run.max_samples,
                raw_pixels=self.raw_pixels, force=force,
            )  # fmt: skip
            return StageResult(model, None, None)
        make_folder(output_dir)
        if self.format == "tensorrt":
            batch = BatchProfile(1, min(8, self.max_batch), self.max_batch)
            engine = output_dir / "model.engine"
            commands.export_tensorrt(
                model, engine, self.precision or "fp32", data=run.data, weights=weights, image_size=size,
                batch=batch, int8=int8, raw_pixels=self.raw_pixels, force=force,
            )  # fmt: skip
            return StageResult(model, None, None)
        target = output_dir / "model.onnx"
        commands.export(
            model, target, data=run.data, weights=weights, image_size=size, opset=self.opset,
            raw_pixels=self.raw_pixels, force=force,
        )  # fmt: skip
        return StageResult(str(target), None, None, False)


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


STAGE_KINDS: dict[str, type[Stage]] = {
    "prune": PruneStage,
    "distill": DistillStage,
    "quantize": QuantizeStage,
    "export": ExportStage,
    "bench": BenchStage,
}
