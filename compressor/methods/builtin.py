"""The built-in methods, registered for their options classes: quantize, prune and distill a loaded model."""

from __future__ import annotations

import copy
import dataclasses
import tempfile
from pathlib import Path

from compressor.core.errors import InputFileError, OptionError
from compressor.core.handle import ModelHandle
from compressor.core.progress import info
from compressor.data.base import DatasetBundle
from compressor.methods.configs import Distill, Prune, Quantize
from compressor.methods.distillation import (
    check_student_fits,
    distillation_val_set,
    objective_of,
    teacher_framing,
    teacher_guide,
)
from compressor.methods.half import torch_half_handle
from compressor.methods.openvino_int8 import NNCF, openvino_int8
from compressor.methods.prune import FINETUNE_LR_SCALE, prune_model
from compressor.methods.quantize import Int8Request, fp16_onnx, int8_method, quantize_onnx_int8, tuning_target
from compressor.methods.registry import Workspace, register_method
from compressor.models.loading import RANDOM_WEIGHTS
from compressor.models.precision import require_full_precision
from compressor.tasks import get_task
from compressor.training.checkpoints import load_or_train, train_config, train_handle
from compressor.training.distillation import parse_feature_pairs


@register_method(Prune)
def prune(model: ModelHandle, config: Prune, data: DatasetBundle, work: Workspace) -> ModelHandle:
    training = train_config(model.name, lr=config.lr)
    training.lr = config.lr or training.lr * FINETUNE_LR_SCALE
    return prune_model(model, data, config, training)[0]


@register_method(Distill)
def distill(model: ModelHandle, config: Distill, data: DatasetBundle, work: Workspace) -> ModelHandle:
    teacher = config.teacher
    if teacher is None:
        raise OptionError("Distill needs a teacher: a model name or file, or a loaded model")
    if isinstance(teacher, str):
        teacher = load_or_train(teacher, data, weights=config.teacher_weights)
    if teacher.module is None:
        raise InputFileError(f"{teacher.name} is an ONNX model; a teacher must be a torch model")
    require_full_precision(teacher, "distillation")
    objective = objective_of(teacher)
    check_student_fits(model, model.name, teacher)
    framed = teacher_framing(model, teacher, fresh=model.weights == RANDOM_WEIGHTS)
    student = dataclasses.replace(
        model, module=copy.deepcopy(model.module), input_spec=framed or model.input_spec, artifacts={}
    )
    guide = teacher_guide(student, teacher, config, parse_feature_pairs(config.feature_pairs), objective)
    training = train_config(model.name, lr=config.lr, seed=config.seed)
    val_set = distillation_val_set(teacher, data) if objective == "embedding" else None
    train_handle(student, data, work.folder / "distilled.pt", config.epochs, training, guide, val_set=val_set)
    return student


@register_method(Quantize)
def quantize(model: ModelHandle, config: Quantize, data: DatasetBundle, work: Workspace) -> ModelHandle:
    require_full_precision(model, "quantization")
    if config.precision == "bf16":
        if model.module is None:
            raise InputFileError(f"{model.name} is an ONNX model; bf16 is for torch models")
        return dataclasses.replace(torch_half_handle(model, "bf16"), artifacts={})
    onnx = work.to_onnx(model) if model.module is not None else model
    with tempfile.TemporaryDirectory(prefix="compressor-quantize-") as scratch:
        if config.precision == "fp16":
            onnx_half, kept = fp16_onnx(onnx, work.folder / f"{model.file_stem}.fp16.onnx", Path(scratch))
            info(f"fp16 ONNX: {', '.join(kept) or 'no'} op types kept in float32")
            if model.module is None:
                return onnx_half
            return dataclasses.replace(torch_half_handle(model, "fp16"), artifacts={"onnx": onnx_half})
        backends = config.backends or []
        request = Int8Request.of(config, target=tuning_target(backends))
        int8_method(request, get_task(model.task))
        outcome = quantize_onnx_int8(onnx, data, request, work.folder / f"{model.file_stem}.int8.onnx", Path(scratch))
        artifacts = {}
        if "openvino" in backends:  # NNCF's int8 where it runs faster on OpenVINO than the Q/DQ file
            target = work.folder / f"{model.file_stem}.int8-openvino.xml"
            chosen = openvino_int8(onnx, data, outcome.handle, request, target)
            artifacts = {"openvino": chosen.handle} if chosen.kept == NNCF else {}
    outcome.handle.metadata["quantization"] = outcome.summary()
    return dataclasses.replace(outcome.handle, artifacts=artifacts)
