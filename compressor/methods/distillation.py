"""Distillation's pairing of a student with its teacher: whether one batch can feed both, how each sees
the images, the loss that guides the student, and the val set an embedding student is scored on."""

from __future__ import annotations

import dataclasses

from torch.utils.data import Dataset

from compressor.core.errors import ModelMismatchError, OptionError
from compressor.core.handle import InputSpec, ModelHandle, scaled_resize
from compressor.core.progress import info, warn
from compressor.data import DatasetBundle
from compressor.data.text import describe_tokens, same_token_ids
from compressor.methods.configs import Distill
from compressor.runtime.torch_runner import TorchRunner
from compressor.tasks import get_task
from compressor.tasks.classification import renormalisation
from compressor.training.distillation import Teacher, check_layer_names


def objective_of(teacher: ModelHandle) -> str:
    """The loss a student of `teacher` learns by (logits or embedding), or one line saying there is none."""
    objective = get_task(teacher.task).distillation
    if objective is None:
        raise OptionError(f"no distillation loss for {teacher.task} models like {teacher.name}")
    return objective


def teacher_guide(
    student: ModelHandle, teacher: ModelHandle, config: Distill, pairs: list[tuple[str, str]], objective: str
) -> Teacher:
    """The teacher as training uses it: its loss weights, feature pairs, and each batch re-normalised and
    resized from the student's images to its own where they differ."""
    assert teacher.module is not None and student.module is not None
    check_layer_names(teacher.module, [name for name, _ in pairs], "teacher")
    check_layer_names(student.module, [name for _, name in pairs], "student")
    renormalise = renormalisation(student.input_spec, teacher.input_spec)
    if renormalise is not None:
        spec = teacher.input_spec
        channels = " (the student's grey channel in each of its three)" if student.input_spec.grayscale else ""
        info(
            f"the teacher's images are re-normalised from the student's to its own "
            f"(mean {list(spec.mean)}, std {list(spec.std)}){channels}"
        )
    resize = teacher_image_size(student, teacher)
    return Teacher(
        teacher.module, config.temperature, config.alpha, objective, pairs, config.feature_weight, renormalise, resize
    )


def distillation_val_set(teacher: ModelHandle, bundle: DatasetBundle) -> Dataset:
    """Val texts scored by the cosine of the student's embeddings to the teacher's (no labels needed)."""
    assert teacher.module is not None
    task = get_task(teacher.task)
    return task.scoring_set(bundle.split("val", teacher.input_spec), TorchRunner(teacher.module), teacher.input_spec)


def teacher_framing(student: ModelHandle, teacher: ModelHandle, fresh: bool) -> InputSpec | None:
    """The student's input spec with the teacher's framing of image files (resize before the crop, filter,
    crop offsets), or None to keep its own. One batch feeds both models, so both see one framing of each
    image: a fresh student learns the teacher's and keeps it (its checkpoint and exports record it); a
    trained student keeps its own, and the teacher then sees images framed otherwise than it was trained on."""
    ours, theirs = student.input_spec, teacher.input_spec
    if student.task != "classification" or teacher.task != "classification":
        return None
    resize = scaled_resize(theirs.resize_before_crop, theirs.image_size, ours.image_size)
    framed = {"resize": resize, "interpolation": theirs.interpolation, "crop_rounding": theirs.crop_rounding}
    if (ours.resize_before_crop, ours.interpolation, ours.crop_rounding) == tuple(framed.values()):
        return None
    framing = f"resize {list(resize)} before the crop, {theirs.interpolation}"
    if not fresh:
        warn(f"{student.name} frames image files otherwise than the teacher ({framing}); the teacher sees its framing")
        return None
    info(f"the student is framed as the teacher: {framing}")
    return dataclasses.replace(ours, **framed)


def check_student_fits(handle: ModelHandle, student: str, teacher: ModelHandle) -> None:
    """The student must take the teacher's inputs: one batch feeds both. For text that means the same token
    ids (a BERT teacher's ids fed to a student with its own vocabulary would train it on nonsense)."""
    if handle.task == teacher.task and handle.input_spec.dtype == "int64" and teacher.input_spec.dtype == "int64":
        if not same_token_ids(handle.input_spec, teacher.input_spec):
            raise ModelMismatchError(
                f"student {student} reads {describe_tokens(handle.input_spec)}, the teacher "
                f"{describe_tokens(teacher.input_spec)}; one batch of token ids feeds both, so a text student needs "
                "the teacher's tokenizer and length (e.g. a smaller Hugging Face model saved with the teacher's "
                "tokenizer)"
            )
        return
    ours, theirs = handle.input_spec.shape, teacher.input_spec.shape
    if handle.task == teacher.task == "classification" and teacher.input_spec.grayscale and ours[0] == 3:
        raise ModelMismatchError(
            f"student {student} reads RGB images and the teacher {teacher.name} grayscale ones; one batch feeds both, "
            "so a grayscale teacher needs a grayscale student (an RGB teacher can teach either)"
        )
    # A grayscale student's one channel is fed to an RGB teacher in each of its three (Teacher.renormalise).
    grey_to_colour = handle.task == "classification" and handle.input_spec.grayscale and theirs[0] == 3
    if (
        handle.task != teacher.task
        or (ours[0] != theirs[0] and not grey_to_colour)
        or (ours != theirs and handle.task != "classification")
    ):
        raise ModelMismatchError(
            f"student {student} ({handle.task}, input {ours}) does not take the teacher's "
            f"inputs ({teacher.task}, {theirs}); pass --image-size to size both alike"
        )


def teacher_image_size(student: ModelHandle, teacher: ModelHandle) -> tuple[int, int] | None:
    """The size the teacher's batches are resized to, where it differs from the student's, or None."""
    if student.input_spec.shape == teacher.input_spec.shape:
        return None
    ours, theirs = student.input_spec.image_size, teacher.input_spec.image_size
    info(f"the teacher sees each batch resized from {ours[0]}x{ours[1]} to its own {theirs[0]}x{theirs[1]}")
    return theirs
