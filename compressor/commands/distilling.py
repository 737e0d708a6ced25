"""`compress distill`: a student trained against a teacher, measured beside it and beside the student trained alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

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
from compressor.core.errors import InputFileError, OptionError
from compressor.core.handle import ModelHandle
from compressor.data import DEFAULT_DATASET, DatasetBundle, load_dataset
from compressor.exporters.engines import engine_artifacts
from compressor.measurement.variants import DEFAULT_BACKENDS, Variant, side_by_side
from compressor.methods.configs import Distill
from compressor.methods.distillation import (
    check_student_fits,
    distillation_val_set,
    objective_of,
    teacher_framing,
    teacher_guide,
)
from compressor.models.catalog import is_zoo_name
from compressor.models.huggingface import is_hf_model
from compressor.models.loading import RANDOM_WEIGHTS, is_file_factory, load_model
from compressor.models.precision import require_full_precision
from compressor.report.schema import Report
from compressor.runtime.torch_runner import check_device
from compressor.training.checkpoints import train_config, train_handle
from compressor.training.distillation import parse_feature_pairs


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
    fit: str | None = None,
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
    students = {"distilled": _student(student, bundle, image_size, start, fit)}
    if compare_scratch:  # built again from the same seed: the same initial weights
        students["scratch"] = _student(student, bundle, image_size, start, fit)
    with main_process_first():  # a missing reference teacher is trained once, by rank 0
        # --image-size sizes a zoo or factory teacher; a checkpoint or model directory runs at its own size
        sized = image_size if is_zoo_name(teacher) or is_file_factory(teacher) else None
        teacher_handle = torch_model(teacher, bundle, teacher_weights, sized, "distillation")
    objective = objective_of(teacher_handle)
    if compare_scratch and objective == "embedding":
        raise OptionError("--compare-scratch: an embedding student has no labels to learn from without its teacher")
    check_student_fits(students["distilled"], student, teacher_handle)
    framed = teacher_framing(students["distilled"], teacher_handle, fresh)
    if framed is not None:
        students = {name: dataclasses.replace(handle, input_spec=framed) for name, handle in students.items()}
    guide = teacher_guide(students["distilled"], teacher_handle, config, pairs, objective)
    prepare_output_dir(output_dir, force)
    training = train_config(student, lr=config.lr, seed=config.seed, device=train_device, distributed=is_distributed())
    val_set = distillation_val_set(teacher_handle, bundle) if objective == "embedding" else None
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


def _student(
    student: str,
    bundle: DatasetBundle,
    image_size: tuple[int, int] | None,
    start: str | None,
    fit: str | None = None,
) -> ModelHandle:
    """The student: a zoo model or factory from `start` (random, a weights file, or torchvision's published
    weights, with new final layers for classes they lack); a checkpoint or model directory as saved (None)."""
    handle = load_model(student, bundle, weights=start, image_size=image_size, new_head=True, fit=fit)
    if handle.module is None:
        raise InputFileError(f"{student} is an ONNX model; a student must be a torch model to train")
    require_full_precision(handle, "a student")
    return handle
