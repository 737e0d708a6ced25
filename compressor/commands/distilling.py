"""`compress distill`: a student trained against a teacher, measured beside it and beside the student trained alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from compressor.commands.common import (
    baseline_artifacts,
    prepare_output_dir,
    refuse_earlier_results,
    torch_model,
    write_compared,
)
from compressor.core.distributed import (
    init_distributed,
    is_distributed,
    is_main_process,
    main_process_first,
    world_size,
)
from compressor.core.errors import InputFileError, ModelMismatchError, OptionError
from compressor.core.handle import InputSpec, ModelHandle, scaled_resize
from compressor.core.progress import info, warn
from compressor.data import DEFAULT_DATASET, DatasetBundle, load_dataset
from compressor.data.text import describe_tokens, same_token_ids
from compressor.exporters.engines import engine_artifacts
from compressor.measurement.variants import DEFAULT_BACKENDS, Variant, side_by_side
from compressor.methods.configs import Distill
from compressor.models.catalog import is_zoo_name
from compressor.models.huggingface import is_hf_model
from compressor.models.loading import RANDOM_WEIGHTS, is_file_factory, load_model
from compressor.models.precision import require_full_precision
from compressor.report.schema import Report
from compressor.runtime.torch_runner import TorchRunner, check_device
from compressor.tasks import get_task
from compressor.tasks.classification import renormalisation
from compressor.training.checkpoints import train_config, train_handle
from compressor.training.distillation import Teacher, check_layer_names, parse_feature_pairs


def distill(
    student: str,
    output_dir: str | Path,
    config: Distill,
    data: str = DEFAULT_DATASET,
    resume: bool = False,
    device: str = "cpu",
    batch_sizes: list[int] | None = None,
    max_samples: int | None = None,
    image_size: tuple[int, int] | None = None,
    force: bool = False,
    student_weights: str | None = None,
) -> Report | None:
    """`compress distill`: a student trained against `config.teacher` (and, if asked, the same student
    trained without it, same seed and budget), measured beside the teacher in one run and written to OUTDIR.

    Under torchrun every process trains a DDP replica; rank 0 measures and writes, and the others
    return None once training is done."""
    if not isinstance(config.teacher, str):
        raise OptionError("compress distill takes its teacher by name or path")
    teacher, teacher_weights, compare_scratch = config.teacher, config.teacher_weights, config.compare_scratch
    pairs = parse_feature_pairs(config.feature_pairs)
    batch_sizes = batch_sizes or [1, 16]
    check_device(device)
    output_dir = Path(output_dir)
    refuse_earlier_results(output_dir, force)
    train_device = init_distributed(device)
    bundle = load_dataset(data)
    # The students first: a misspelt one fails before a missing reference teacher is trained (minutes).
    built = is_zoo_name(student) or is_file_factory(student)
    fresh = built and student_weights in (None, RANDOM_WEIGHTS)
    start = RANDOM_WEIGHTS if fresh else student_weights
    students = {"distilled": _student(student, bundle, image_size, start)}
    if compare_scratch:  # built again from the same seed: the same initial weights
        students["scratch"] = _student(student, bundle, image_size, start)
    with main_process_first():  # a missing reference teacher is trained once, by rank 0
        # --image-size sizes a zoo or factory teacher; a checkpoint or model directory runs at its own size
        sized = image_size if is_zoo_name(teacher) or is_file_factory(teacher) else None
        teacher_handle = torch_model(teacher, bundle, teacher_weights, sized, "distillation")
    objective = get_task(teacher_handle.task).distillation
    if objective is None:
        raise OptionError(f"no distillation loss for {teacher_handle.task} models like {teacher_handle.name}")
    if compare_scratch and objective == "embedding":
        raise OptionError("--compare-scratch: an embedding student has no labels to learn from without its teacher")
    _check_student_fits(students["distilled"], student, teacher_handle)
    framed = _teacher_framing(students["distilled"], teacher_handle, fresh)
    if framed is not None:
        students = {name: dataclasses.replace(handle, input_spec=framed) for name, handle in students.items()}
    assert teacher_handle.module is not None and students["distilled"].module is not None
    check_layer_names(teacher_handle.module, [name for name, _ in pairs], "teacher")
    check_layer_names(students["distilled"].module, [name for _, name in pairs], "student")
    prepare_output_dir(output_dir, force)
    renormalise = renormalisation(students["distilled"].input_spec, teacher_handle.input_spec)
    if renormalise is not None:
        spec = teacher_handle.input_spec
        grey = students["distilled"].input_spec.grayscale
        channels = " (the student's grey channel in each of its three)" if grey else ""
        info(
            f"the teacher's images are re-normalised from the student's to its own "
            f"(mean {list(spec.mean)}, std {list(spec.std)}){channels}"
        )
    resize = _teacher_image_size(students["distilled"], teacher_handle)
    guide = Teacher(
        teacher_handle.module, config.temperature, config.alpha, objective, pairs, config.feature_weight, renormalise,
        resize,
    )  # fmt: skip
    training = train_config(student, lr=config.lr, seed=config.seed, device=train_device, distributed=is_distributed())
    val_set = _distillation_val_set(teacher_handle, bundle) if objective == "embedding" else None
    summary: dict[str, Any] = {
        "teacher": teacher_handle.name,
        "teacher_weights": teacher_handle.weights,  # the report's `weights:` note names the student's
        "objective": objective,
        "temperature": config.temperature,
        "alpha": config.alpha,
        "feature_pairs": [f"{t}:{s}" for t, s in pairs],
        "epochs": config.epochs,
        "processes": world_size(),
    }
    for name, handle in students.items():
        output = output_dir / (name if is_hf_model(handle) else f"{name}.pt")
        taught = guide if name == "distilled" else None
        result = train_handle(
            handle, bundle, output, config.epochs, dataclasses.replace(training), taught, resume, val_set
        )
        summary[name] = {"best_epoch": result.best_epoch, "best_val": result.best_metric}
    if not is_main_process():
        return None
    variants = [
        Variant(name, "fp32", baseline_artifacts(handle, bundle, True, output_dir / f"{name}.onnx"))
        for name, handle in {"teacher": teacher_handle, **students}.items()
    ]
    measured_on = config.backends or DEFAULT_BACKENDS
    variants = engine_artifacts(variants, measured_on, output_dir, batch_sizes)
    compared = side_by_side(variants, bundle, measured_on, device, batch_sizes, max_samples, "teacher")
    extra = {"distillation": summary, "settings": {"distilled": [config.record()]}}
    return write_compared(students["distilled"], bundle, compared, output_dir, extra)


def _distillation_val_set(teacher: ModelHandle, bundle: DatasetBundle) -> Dataset:
    """Val texts scored by the cosine of the student's embeddings to the teacher's (no labels needed)."""
    assert teacher.module is not None
    task = get_task(teacher.task)
    return task.scoring_set(bundle.split("val", teacher.input_spec), TorchRunner(teacher.module), teacher.input_spec)


def _student(student: str, bundle: DatasetBundle, image_size: tuple[int, int] | None, start: str | None) -> ModelHandle:
    """The student: a zoo model or factory from `start` (random, a weights file, or torchvision's published
    weights, with new final layers for classes they lack); a checkpoint or model directory as saved (None)."""
    handle = load_model(student, bundle, weights=start, image_size=image_size, new_head=True)
    if handle.module is None:
        raise InputFileError(f"{student} is an ONNX model; a student must be a torch model to train")
    require_full_precision(handle, "a student")
    return handle


def _teacher_framing(student: ModelHandle, teacher: ModelHandle, fresh: bool) -> InputSpec | None:
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


def _check_student_fits(handle: ModelHandle, student: str, teacher: ModelHandle) -> None:
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


def _teacher_image_size(student: ModelHandle, teacher: ModelHandle) -> tuple[int, int] | None:
    """The size the teacher's batches are resized to, where it differs from the student's, or None."""
    if student.input_spec.shape == teacher.input_spec.shape:
        return None
    ours, theirs = student.input_spec.image_size, teacher.input_spec.image_size
    info(f"the teacher sees each batch resized from {ours[0]}x{ours[1]} to its own {theirs[0]}x{theirs[1]}")
    return theirs
