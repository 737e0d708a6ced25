"""Training runs that write checkpoints: a model trained (or distilled) to a file, and the reference
checkpoints every command trains and caches on first use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from compressor.core.distributed import is_main_process, world_size
from compressor.core.errors import OptionError
from compressor.core.handle import InputSpec, ModelHandle
from compressor.core.progress import info, warn
from compressor.data import DatasetBundle
from compressor.models.catalog import get_entry, is_zoo_name
from compressor.models.checkpoint import read_checkpoint, save_checkpoint
from compressor.models.huggingface import TRAINING_RECORD, is_hf_model, save_hf_directory
from compressor.models.loading import (
    RANDOM_WEIGHTS,
    MissingReferenceError,
    build_zoo_handle,
    load_model,
)
from compressor.models.reference import reference_path
from compressor.models.registry import ZooEntry
from compressor.tasks import get_task
from compressor.training.distillation import Teacher
from compressor.training.fit import TrainConfig, TrainResult, fit
from compressor.training.state import run_signature, state_path_for


def train_config(model: str, **given: Any) -> TrainConfig:
    """The zoo model's own training recipe (e.g. a Transformer's lower lr), with the options given (non-None) on top."""
    recipe = dict(get_entry(model).train_recipe) if is_zoo_name(model) else {}
    return TrainConfig(**{**recipe, **{key: value for key, value in given.items() if value is not None}})


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
    model: str,
    bundle: DatasetBundle,
    weights: str | None = None,
    image_size: tuple[int, int] | None = None,
    fit: str | None = None,
) -> ModelHandle:
    """`load_model`, a zoo model's reference checkpoint trained and cached first where it is asked for
    (no weights) and missing, as every command does. The model is built and its input size checked before
    any training (minutes), so a size it cannot take is refused at once."""
    try:
        return load_model(model, bundle, weights=weights, image_size=image_size, fit=fit)
    except MissingReferenceError:  # raised after the model was built and its input size checked
        built = load_model(model, bundle, weights=RANDOM_WEIGHTS, image_size=image_size, fit=fit)
        ensure_reference_checkpoint(get_entry(model), bundle, built.input_spec)
    return load_model(model, bundle, weights=weights, image_size=image_size, fit=fit)


def reference_model(
    name: str, bundle: DatasetBundle, image_size: tuple[int, int] | None = None, fit: str | None = None
) -> ModelHandle:
    """The zoo model `name` with its reference checkpoint for `bundle`, trained and cached on first use."""
    if not is_zoo_name(name):
        get_entry(name)  # unknown: refused in words, with the close names
    return load_or_train(name, bundle, image_size=image_size, fit=fit)
