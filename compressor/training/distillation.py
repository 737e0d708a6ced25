"""Teacher-student distillation: the losses, feature taps, and the student as the trainer optimises it.

Hinton KD (soft targets scaled by T^2 so gradients keep their size as T changes; labels weighted
1 - alpha), cosine distance for embedding models, and FitNets feature MSE through a learned 1x1
projection where widths differ. Pruning's fine-tuning uses the same loss, the unpruned model teaching.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.hooks import RemovableHandle

from compressor.core.errors import ModelMismatchError, OptionError
from compressor.runtime.torch_runner import output_list

OBJECTIVES = ("logits", "embedding")


@dataclass
class Teacher:
    module: nn.Module  # in eval mode, never updated
    temperature: float = 4.0
    alpha: float = 0.7  # weight of the distillation term; 1 - alpha weighs the labels
    objective: str = "logits"  # "embedding": cosine distance to the teacher's vectors, no labels
    feature_pairs: list[tuple[str, str]] = field(default_factory=list)  # (teacher layer, student layer)
    feature_weight: float = 1.0
    # (scale, shift) per channel from the student's image normalisation to the teacher's: one batch feeds
    # both, and a hub teacher (ViT: mean and std 0.5) fed ImageNet-normalised pixels sees other values
    # than it was trained on, and scores lower (docs/distill.md). A grayscale student's one channel
    # broadcasts to an RGB teacher's three: the teacher sees the grey image the student sees.
    renormalise: tuple[torch.Tensor, torch.Tensor] | None = None
    # The teacher's image size where the student's differs (a 224 hub teacher, a 128 student for the
    # edge): each batch is resized to it, antialiased, after the re-normalisation.
    image_size: tuple[int, int] | None = None


def hinton_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor, temperature: float, alpha: float
) -> torch.Tensor:
    """alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)."""
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=-1),
        F.log_softmax(teacher_logits / temperature, dim=-1),
        reduction="batchmean",
        log_target=True,
    )
    return alpha * temperature**2 * soft + (1 - alpha) * F.cross_entropy(student_logits, targets)


def embedding_loss(student_embeddings: torch.Tensor, teacher_embeddings: torch.Tensor) -> torch.Tensor:
    """Mean cosine distance: the score embedding models are measured by (MSE of unit vectors is twice it)."""
    return (1.0 - F.cosine_similarity(student_embeddings.float(), teacher_embeddings.float(), dim=-1)).mean()


def parse_feature_pairs(specs: list[str]) -> list[tuple[str, str]]:
    """`teacher.layer:student.layer` strings as (teacher, student) module names."""
    pairs = []
    for spec in specs:
        teacher_layer, sep, student_layer = spec.partition(":")
        if not sep or not teacher_layer or not student_layer:
            raise OptionError(
                f"--feature-pairs takes teacher.layer:student.layer (e.g. layer3:features.8), got {spec!r}"
            )
        pairs.append((teacher_layer, student_layer))
    return pairs


def check_layer_names(module: nn.Module, names: list[str], role: str) -> None:
    """Refuse a --feature-pairs layer `module` (the teacher or the student, `role`) does not have, with the
    closest names; `distill` checks before anything is written or trained."""
    modules = dict(module.named_modules())
    for name in names:
        if name not in modules:
            close = difflib.get_close_matches(name, [n for n in modules if n], n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise OptionError(f"--feature-pairs: the {role} has no layer {name!r}{hint}")


class FeatureTaps:
    """Forward hooks that keep the latest output of named submodules."""

    def __init__(self, module: nn.Module, names: list[str], role: str) -> None:
        check_layer_names(module, names, role)
        modules = dict(module.named_modules())
        self.outputs: dict[str, torch.Tensor] = {}
        self._hooks: list[RemovableHandle] = [modules[name].register_forward_hook(self._keeper(name)) for name in names]
        self.names = names

    def _keeper(self, name: str):  # noqa: ANN202 - a forward hook
        def keep(_module: nn.Module, _inputs: object, output: object) -> None:
            if not isinstance(output, torch.Tensor):
                raise OptionError(f"--feature-pairs: layer {name!r} does not output one tensor")
            self.outputs[name] = output

        return keep

    def take(self) -> list[torch.Tensor]:
        features = [self.outputs[name] for name in self.names]
        self.outputs.clear()
        return features

    def remove(self) -> None:
        for hook in self._hooks:
            hook.remove()


def _projection(student_shape: torch.Size, teacher_shape: torch.Size) -> nn.Module:
    """Maps the student's feature width onto the teacher's: a 1x1 conv for maps, linear for vectors/tokens."""
    if len(student_shape) != len(teacher_shape):
        raise ModelMismatchError(
            f"--feature-pairs: student features {tuple(student_shape)} and teacher features {tuple(teacher_shape)} "
            "have different ranks; pair layers of the same kind (feature maps with feature maps)"
        )
    if len(student_shape) == 4:
        student_width, teacher_width = student_shape[1], teacher_shape[1]
        return nn.Conv2d(student_width, teacher_width, 1) if student_width != teacher_width else nn.Identity()
    student_width, teacher_width = student_shape[-1], teacher_shape[-1]
    return nn.Linear(student_width, teacher_width) if student_width != teacher_width else nn.Identity()


def _matched(student_features: torch.Tensor, teacher_features: torch.Tensor) -> torch.Tensor:
    """Student feature maps resized to the teacher's spatial size (average pooling or bilinear)."""
    if student_features.dim() == 4 and student_features.shape[-2:] != teacher_features.shape[-2:]:
        if student_features.shape[-2] >= teacher_features.shape[-2]:
            return F.adaptive_avg_pool2d(student_features, teacher_features.shape[-2:])
        return F.interpolate(student_features, size=teacher_features.shape[-2:], mode="bilinear", align_corners=False)
    if student_features.shape != teacher_features.shape:
        raise ModelMismatchError(
            f"--feature-pairs: student features {tuple(student_features.shape)} cannot be matched to the teacher's "
            f"{tuple(teacher_features.shape)}"
        )
    return student_features


class DistillationStudent(nn.Module):
    """The student plus the projections feature distillation learns: what the trainer optimises (and DDP
    wraps), so the projections train and sync with the student. Only `student` is saved afterwards."""

    def __init__(self, student: nn.Module, teacher: Teacher, probe: list[torch.Tensor]) -> None:
        super().__init__()
        if teacher.objective not in OBJECTIVES:
            raise OptionError(f"unknown distillation objective {teacher.objective!r}; choose from {OBJECTIVES}")
        self.student = student
        self.teacher = teacher
        self._student_taps = FeatureTaps(student, [s for _, s in teacher.feature_pairs], "student")
        self._teacher_taps = FeatureTaps(teacher.module, [t for t, _ in teacher.feature_pairs], "teacher")
        teacher_out, teacher_features = self.teacher_outputs(probe)
        was_training = student.training
        with torch.no_grad():
            student_out = output_list(student.eval()(*probe))
        student.train(was_training)
        self._check_outputs(student_out[0], teacher_out[0])
        self.projections = nn.ModuleList(
            _projection(s.shape, t.shape) for s, t in zip(self._student_taps.take(), teacher_features, strict=True)
        ).to(probe[0].device)

    def _check_outputs(self, student_out: torch.Tensor, teacher_out: torch.Tensor) -> None:
        if student_out.shape[-1] != teacher_out.shape[-1]:
            what = "embedding width" if self.teacher.objective == "embedding" else "number of classes"
            raise ModelMismatchError(
                f"the student's {what} ({student_out.shape[-1]}) differs from the teacher's ({teacher_out.shape[-1]});"
                " a student must answer in the teacher's terms"
            )

    @torch.no_grad()
    def teacher_outputs(self, inputs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The frozen teacher's outputs and tapped features for one batch (normalised for the student)."""
        if self.teacher.renormalise is not None:
            scale, shift = (value.to(inputs[0].device) for value in self.teacher.renormalise)
            inputs = [inputs[0] * scale + shift, *inputs[1:]]
        if self.teacher.image_size is not None and tuple(inputs[0].shape[-2:]) != self.teacher.image_size:
            resized = F.interpolate(inputs[0], size=self.teacher.image_size, mode="bilinear", antialias=True)
            inputs = [resized, *inputs[1:]]
        outputs = output_list(self.teacher.module(*inputs))
        return outputs, self._teacher_taps.take()

    def forward(self, *inputs: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        outputs = output_list(self.student(*inputs))
        features = [projection(f) for projection, f in zip(self.projections, self._student_taps.take(), strict=True)]
        return outputs, features

    def loss(
        self,
        student: tuple[list[torch.Tensor], list[torch.Tensor]],
        teacher: tuple[list[torch.Tensor], list[torch.Tensor]],
        targets: torch.Tensor,
    ) -> torch.Tensor:
        """The objective's loss on the first output, plus the weighted feature MSE of each pair."""
        (student_out, student_features), (teacher_out, teacher_features) = student, teacher
        config = self.teacher
        if config.objective == "embedding":
            loss = embedding_loss(student_out[0], teacher_out[0])
        else:
            logits = student_out[0].float()
            loss = hinton_loss(
                logits, teacher_out[0].float(), targets.to(logits.device), config.temperature, config.alpha
            )
        for mine, theirs in zip(student_features, teacher_features, strict=True):
            loss = loss + config.feature_weight * F.mse_loss(_matched(mine, theirs).float(), theirs.float())
        return loss

    def release(self) -> None:
        """Remove the hooks, leaving the student and the teacher as they were."""
        self._student_taps.remove()
        self._teacher_taps.remove()
