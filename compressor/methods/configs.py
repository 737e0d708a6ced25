"""One options class per compression method, used wherever that method's options appear.

The CLI builds it from flags, a recipe stage is it (`- quantize: {precision: int8}`), `--dump-recipe`
prints it, the report records it and `cz.compress(model, config, data)` takes it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    InstanceOf,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
)

from compressor.core.errors import OptionError, UnknownNameError
from compressor.core.handle import ModelHandle
from compressor.runtime import backend_names
from compressor.training.distillation import parse_feature_pairs


def _known_backend(name: str) -> str:
    if name not in backend_names():
        raise ValueError(f"unknown backend {name!r}; choose from {', '.join(backend_names())}")
    return name


BackendName = Annotated[str, AfterValidator(_known_backend)]  # a registered backend (`runtime.registry`)


class MethodConfig(BaseModel):
    """The options of one method. A subclass names its recipe stage in `kind` and its report rows in
    `variant`; `register_method` ties it to the function that applies it."""

    model_config = ConfigDict(extra="forbid")

    kind: ClassVar[str] = ""  # the recipe stage (`- prune: {...}`), the verb and the report's block
    variant: ClassVar[str] = ""  # the report rows of its output (`pruned`); default: `kind`
    needs_torch: ClassVar[bool] = False  # it starts from a torch model (an ONNX file is refused)

    backends: list[BackendName] | None = None
    """Where the verb and the recipe stage measure the result; None: torch and onnxruntime, those of them
    the result runs on. `cz.compress` measures nothing, but with openvino among them int8 also tries NNCF's."""

    def check(self) -> None:
        """Option values and combinations the field types cannot express, raised as OptionError: a recipe
        checks every stage before its first one runs."""

    def variant_name(self) -> str:
        return self.variant or self.kind

    def precision_name(self) -> str:
        """The `precision` of its report rows."""
        return "fp32"

    def leaves_torch(self, torch_in: bool) -> bool:
        """Whether its output is a torch model, given whether its input was (a recipe checks its chain)."""
        return torch_in

    def settings(self) -> dict[str, Any]:
        """The options given (defaults and the measuring ones left out)."""
        return self.model_dump(mode="json", exclude={"backends"}, exclude_defaults=True)

    def record(self) -> dict[str, Any]:
        """What a report's `settings` block and a compressed model's `methods` list hold of it."""
        return {"kind": self.kind, "variant": self.variant_name(), **self.settings()}


Precision = Literal["int8", "fp16", "bf16"]
Calibration = Literal["minmax", "entropy", "percentile"]


class Quantize(MethodConfig):
    """int8 (onnxruntime's static or dynamic quantization, calibrated on the train split), fp16 or bf16."""

    kind: ClassVar[str] = "quantize"

    precision: Precision
    """int8 (an ONNX file), fp16 (a torch half model and an fp16 ONNX file) or bf16."""
    method: Literal["static", "dynamic"] | None = None
    """None: dynamic for text models, else static."""
    calibration: Calibration = "minmax"
    """How static int8 sets each activation's range from the calibration samples."""
    calib_samples: PositiveInt = 256
    """Train samples the ranges are calibrated on (never val)."""
    exclude: tuple[str, ...] = ()
    """Node names or op types kept in float."""
    max_accuracy_drop: NonNegativeFloat | None = None
    """Points of the primary metric int8 may lose."""
    tune_speed: bool = True
    """Time op groups in float vs int8 here; keep float where that is faster."""

    def variant_name(self) -> str:
        return self.precision

    def precision_name(self) -> str:
        return self.precision

    def leaves_torch(self, torch_in: bool) -> bool:
        return self.precision == "bf16"  # int8 and fp16 are ONNX files


class Int8(Quantize):
    precision: Literal["int8"] = "int8"


class Fp16(Quantize):
    precision: Literal["fp16"] = "fp16"


class Bf16(Quantize):
    precision: Literal["bf16"] = "bf16"


NORMS = {"l1": 1, "l2": 2}
PATTERNS = ("2:4",)


class Prune(MethodConfig):
    """Magnitude pruning: whole channels (structured) or single weights, by sparsity or by threshold."""

    model_config = ConfigDict(frozen=True)
    kind: ClassVar[str] = "prune"
    variant: ClassVar[str] = "pruned"
    needs_torch: ClassVar[bool] = True

    sparsity: float | None = None
    """The fraction of channels (structured) or weights removed, in [0, 1)."""
    threshold: NonNegativeFloat | None = None
    """A multiple of each layer's mean magnitude."""
    structured: bool = True
    """Whole channels, so the model gets smaller and faster; False: single weights (zeros, same size)."""
    pattern: Literal["2:4"] | None = None
    """Semi-structured, with structured=False."""
    norm: Literal["l1", "l2"] = "l2"
    """How a channel's magnitude is measured."""
    global_ranking: bool = False
    """Rank channels across all layers at once rather than layer by layer."""
    ignore: tuple[str, ...] = ()
    """Module names (and everything under them) left untouched."""
    round_to: PositiveInt = 16
    """Channel counts kept multiples of it (onnxruntime's x86 blocks: 16)."""
    steps: PositiveInt = 1
    """Prune in this many rounds, fine-tuning between them."""
    finetune_epochs: NonNegativeInt = 0
    """Epochs of fine-tuning on the train split after pruning."""
    distill: bool = False
    """Fine-tune against the unpruned model's outputs."""
    residual_width: bool = False
    """Attention models: also narrow the width every block shares."""
    whole_heads: bool = False
    """Remove whole attention heads instead of channels from every head."""
    lr: NonNegativeFloat | None = None
    """Fine-tuning lr; None: 4x the model's from-scratch recipe."""

    def check(self) -> None:
        given = [name for name in ("sparsity", "threshold", "pattern") if getattr(self, name) is not None]
        if len(given) != 1:
            raise OptionError("give exactly one of --sparsity S, --threshold T or --pattern 2:4")
        if self.sparsity is not None and not 0.0 <= self.sparsity < 1.0:
            raise OptionError(f"--sparsity is a fraction in [0, 1); got {self.sparsity}")
        if self.threshold is not None and self.threshold < 0.0:
            raise OptionError(f"--threshold is a multiple of a layer's mean magnitude (>= 0); got {self.threshold}")
        if self.pattern is not None and (self.pattern not in PATTERNS or self.structured):
            raise OptionError(f"--pattern takes {', '.join(PATTERNS)} and goes with --unstructured")
        if self.norm not in NORMS:
            raise UnknownNameError(f"unknown --norm {self.norm!r}; choose from {', '.join(NORMS)}")
        if self.residual_width and not self.structured:
            raise OptionError("--residual-width removes whole channels: it goes with --structured")
        if self.whole_heads and not self.structured:
            raise OptionError("--whole-heads removes whole attention heads: it goes with --structured")
        if self.round_to < 1 or self.steps < 1 or self.finetune_epochs < 0:
            raise OptionError("--round-to and --steps are at least 1, --finetune-epochs at least 0")

    @property
    def level(self) -> float:
        """The amount asked for, as one number (the sweep's x axis)."""
        if self.sparsity is not None:
            return self.sparsity
        return self.threshold if self.threshold is not None else 0.5  # 2:4 keeps half

    def leaves_torch(self, torch_in: bool) -> bool:
        return True


class Distill(MethodConfig):
    """Hinton knowledge distillation: the model is trained to match a teacher's softened outputs."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    kind: ClassVar[str] = "distill"
    variant: ClassVar[str] = "distilled"
    needs_torch: ClassVar[bool] = True

    teacher: str | InstanceOf[ModelHandle] | None = None
    """A model spec, or in Python a loaded model; None in a recipe: the recipe's own model."""
    teacher_weights: str | None = None
    """The teacher's weights, as `--weights` takes them."""
    epochs: PositiveInt = 5
    temperature: float = Field(default=4.0, gt=0)
    """Softens both models' outputs before they are compared (Hinton's T)."""
    alpha: float = Field(default=0.7, ge=0, le=1)
    """Weight of the teacher's term; 1 - alpha weighs the labels."""
    feature_pairs: list[str] = Field(default_factory=list)
    """Teacher.layer:student.layer, matched by MSE."""
    feature_weight: NonNegativeFloat = 1.0
    """Weight of the feature pairs' MSE in the loss."""
    compare_scratch: bool = False
    """The verb also trains the student without the teacher."""
    lr: NonNegativeFloat | None = None
    """The student's learning rate; None: its from-scratch recipe's."""
    seed: int = 0

    def check(self) -> None:
        parse_feature_pairs(self.feature_pairs)

    def leaves_torch(self, torch_in: bool) -> bool:
        return True

    def settings(self) -> dict[str, Any]:
        teacher = self.teacher.name if isinstance(self.teacher, ModelHandle) else self.teacher
        return {
            **self.model_dump(mode="json", exclude={"backends", "teacher"}, exclude_defaults=True),
            "teacher": teacher,
        }
