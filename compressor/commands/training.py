"""`compress train`, and the training every other command runs (distillation, fine-tuning, reference checkpoints)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from compressor.data import DEFAULT_DATASET, DatasetBundle, load_dataset
from compressor.distributed import init_distributed, is_distributed, is_main_process, world_size
from compressor.errors import InputFileError, OptionError
from compressor.methods.distill import Teacher
from compressor.models.catalog import get_entry, is_zoo_name
from compressor.models.checkpoint import read_checkpoint, save_checkpoint
from compressor.models.handle import InputSpec, ModelHandle
from compressor.models.huggingface import TRAINING_RECORD, is_hf_model, save_hf_directory
from compressor.models.loading import (
    RANDOM_WEIGHTS,
    MissingReferenceError,
    build_zoo_handle,
    is_file_factory,
    load_model,
)
from compressor.models.pretrained import is_pretrained_request
from compressor.models.reference import reference_path
from compressor.models.registry import ZooEntry
from compressor.progress import info, warn
from compressor.runtime.torch_runner import check_device
from compressor.tasks import get_task
from compressor.train import TrainConfig, TrainResult, fit
from compressor.train_state import run_signature, state_path_for


def train_config(model: str, **given: Any) -> TrainConfig:
    """The zoo model's own training recipe (e.g. a Transformer's lower lr), with the options given (non-None) on top."""
    recipe = dict(get_entry(model).train_recipe) if is_zoo_name(model) else {}
    return TrainConfig(**{**recipe, **{key: value for key, value in given.items() if value is not None}})


def train(
    model: str,
    output: str | Path,
    data: str = DEFAULT_DATASET,
    epochs: int = 5,
    image_size: tuple[int, int] | None = None,
    config: TrainConfig | None = None,
    resume: bool = False,
    force: bool = False,
    weights: str | None = None,
) -> tuple[ModelHandle, TrainResult]:
    """`compress train`: a zoo model or file factory from random weights to a checkpoint (DDP under torchrun);
    with `weights` `imagenet` or `coco`, a torchvision classifier or detector fine-tuned from its published
    weights (new final layers where the data's classes are not the weights').

    An existing checkpoint at `output` is trained over only with `force` (or continued with `resume`): it may
    hold hours of training."""
    if weights not in (None, RANDOM_WEIGHTS) and not is_pretrained_request(weights):
        raise OptionError(
            f"compress train starts from random weights or torchvision's (--weights imagenet or coco), not {weights}"
        )
    if not (is_zoo_name(model) or is_file_factory(model)):
        if Path(model).expanduser().exists():
            raise InputFileError(
                f"compress train builds a zoo model or file.py:factory from scratch; {model} is a trained model "
                "(checkpoint, .onnx or Hugging Face directory): bench or export it by path instead"
            )
        get_entry(model)  # an unknown name: the registry's error suggests close names
    if Path(output).exists() and not (force or resume):
        raise InputFileError(
            f"{output} already exists; pass --force to train over it, or --resume to continue the run that wrote it"
        )
    config = config or train_config(model)
    check_device(config.device)
    config.device = init_distributed(config.device)
    config.distributed = is_distributed()
    bundle = load_dataset(data)
    handle = load_model(model, bundle, weights=weights or RANDOM_WEIGHTS, image_size=image_size, new_head=True)
    return handle, train_handle(handle, bundle, output, epochs, config, resume=resume)


def train_handle(
    handle: ModelHandle,
    bundle: DatasetBundle,
    output: str | Path,
    epochs: int,
    config: TrainConfig | None = None,
    teacher: Teacher | None = None,
    resume: bool = False,
    val_set: Dataset | None = None,
) -> TrainResult:
    """Train a torch handle on `bundle` (against a `teacher`'s outputs too, if given) and write a
    self-describing checkpoint to `output` (a Hugging Face model: a model directory).

    The training state is saved beside it after every epoch (NAME.state.pt, removed once the
    checkpoint is written); with `resume` the run continues from that state, and a checkpoint this
    run already finished is taken as it is."""
    assert handle.module is not None
    config = config or TrainConfig()
    config.epochs = epochs
    task = get_task(handle.task)
    output, state_path = Path(output), state_path_for(output)
    signature = run_signature(config, world_size())
    if resume and output.exists() and not state_path.is_file():
        return _finished_training(handle, bundle, output, signature, task.primary_metric)
    if state_path.is_file() and not resume:
        warn(f"{state_path} holds an interrupted run; training from the start (pass --resume to continue it)")
    result = fit(
        handle.module,
        task,
        bundle.split("train", handle.input_spec),
        val_set if val_set is not None else bundle.split("val", handle.input_spec),
        handle.input_spec,
        config,
        description=f"{'distill' if teacher else 'train'} {handle.name}",
        teacher=teacher,
        state_path=state_path,
        resume=resume,
    )
    training = {
        "dataset": bundle.name,
        "dataset_fingerprint": bundle.fingerprint,
        "epochs": epochs,
        "best_epoch": result.best_epoch,
        task.primary_metric: result.best_metric,
        "seed": config.seed,
        "signature": signature,
        **({"temperature": teacher.temperature, "alpha": teacher.alpha} if teacher else {}),
    }
    if is_main_process():
        _save_trained(handle, output, {**handle.describe(), "train": training})
        state_path.unlink(missing_ok=True)
    handle.weights = str(output)
    info(f"saved {output}: best val {task.primary_metric} {result.best_metric:.4f} at epoch {result.best_epoch}")
    return result


def _save_trained(handle: ModelHandle, output: Path, description: dict[str, Any]) -> None:
    assert handle.module is not None
    if is_hf_model(handle):
        save_hf_directory(handle, output, description)
    else:
        save_checkpoint(output, handle.module.state_dict(), description)


def read_training_record(output: Path) -> dict[str, Any]:
    """What the training that wrote `output` (a checkpoint or a model directory) recorded about itself."""
    if output.is_dir():
        record = output / TRAINING_RECORD
        description = json.loads(record.read_text()) if record.is_file() else {}
    else:
        description = read_checkpoint(output).description or {}
    return description.get("train", {})


def _finished_training(
    handle: ModelHandle, bundle: DatasetBundle, output: Path, signature: dict[str, Any], metric: str
) -> TrainResult:
    """--resume where this run's checkpoint is already written: its weights, and what its training recorded."""
    training = read_training_record(output)
    if training.get("signature") != signature:
        raise OptionError(
            f"{output} was written by a run with other options; resume with the same options, or pass --force "
            "without --resume to start again"
        )
    finished = load_model(str(output), bundle)
    assert handle.module is not None and finished.module is not None
    handle.module.load_state_dict(finished.module.state_dict())
    handle.weights = str(output)
    info(f"{output} is already trained (val {metric} {training[metric]:.4f}); resuming past it")
    return TrainResult(training[metric], training["best_epoch"])


def ensure_reference_checkpoint(entry: ZooEntry, bundle: DatasetBundle, spec: InputSpec) -> Path:
    """The cached reference checkpoint's path, training and saving it first if it is missing."""
    path = reference_path(entry, bundle, spec)
    if path.is_file():
        return path
    info(
        f"No reference checkpoint for {entry.name} on {bundle.name} yet: training one now "
        f"({entry.reference_epochs} epochs; cached at {path}). Pass --weights random to skip."
    )
    handle = build_zoo_handle(entry, bundle, spec)
    train_handle(handle, bundle, path, epochs=entry.reference_epochs, config=TrainConfig(**entry.train_recipe))
    return path


def load_or_train(
    model: str, bundle: DatasetBundle, weights: str | None = None, image_size: tuple[int, int] | None = None
) -> ModelHandle:
    """`load_model`, a zoo model's reference checkpoint trained and cached first where it is asked for
    (no weights) and missing, as every command does. The model is built and its input size checked before
    any training (minutes), so a size it cannot take is refused at once."""
    try:
        return load_model(model, bundle, weights=weights, image_size=image_size)
    except MissingReferenceError:  # raised after the model was built and its input size checked
        built = load_model(model, bundle, weights=RANDOM_WEIGHTS, image_size=image_size)
        ensure_reference_checkpoint(get_entry(model), bundle, built.input_spec)
    return load_model(model, bundle, weights=weights, image_size=image_size)


def reference_model(name: str, bundle: DatasetBundle, image_size: tuple[int, int] | None = None) -> ModelHandle:
    """The zoo model `name` with its reference checkpoint for `bundle`, trained and cached on first use."""
    if not is_zoo_name(name):
        get_entry(name)  # unknown: refused in words, with the close names
    return load_or_train(name, bundle, image_size=image_size)
