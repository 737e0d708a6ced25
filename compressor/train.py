"""The one training loop: `compress train`, reference checkpoints, pruning's fine-tuning (with or
without distillation from the unpruned model) and, later, `compress distill`.

AdamW with a one-cycle schedule and light augmentation: a recipe that trains the reference models
from scratch in minutes on a CPU. The best epoch by the task's primary metric is kept.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from compressor.methods.distill import Teacher, hinton_loss
from compressor.models.handle import InputSpec
from compressor.progress import make_progress
from compressor.runtime.torch_runner import output_list
from compressor.tasks.base import Task


@dataclass
class TrainConfig:
    epochs: int = 5
    batch_size: int | None = None  # None: the task's own default (32 for classifiers, 8 for detectors)
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.15
    max_grad_norm: float | None = None  # clip the global gradient norm (Transformers from scratch need it)
    augment: bool = True
    seed: int = 0
    device: str = "cpu"
    channels_last: bool = True  # about 2x faster convolution training on CPU (oneDNN)


@dataclass
class TrainResult:
    best_metric: float
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _place(inputs: list[torch.Tensor], config: TrainConfig) -> list[torch.Tensor]:
    placed = [tensor.to(config.device) for tensor in inputs]
    if config.channels_last:
        placed = [t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in placed]
    return placed


@torch.no_grad()
def recalibrate_batchnorm(
    module: nn.Module, task: Task, loader: DataLoader, spec: InputSpec, config: TrainConfig, max_batches: int = 50
) -> None:
    """Re-estimate BatchNorm running statistics for the current weights, from un-augmented train batches.

    Short from-scratch runs move the weights faster than BatchNorm's running averages follow, and a
    model that scores well in train mode can predict one class in eval mode. An exact average over
    a few train batches fixes that (the same step pruning needs after removing channels).
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches below
    module.train()
    for index, batch in enumerate(loader):
        if index >= max_batches:
            break
        inputs, targets = task.prepare_batch(batch, spec)
        task.training_loss(module, _place(inputs, config), targets)  # train-mode forward updates the statistics
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum


def recalibrate(module: nn.Module, task: Task, train_set: Dataset, spec: InputSpec, config: TrainConfig) -> None:
    """BatchNorm statistics re-estimated on train batches, without training (e.g. right after pruning)."""
    loader = DataLoader(
        train_set,
        batch_size=config.batch_size or task.train_batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(config.seed),
        collate_fn=task.collate,
    )
    recalibrate_batchnorm(module.to(config.device), task, loader, spec, config)
    module.cpu().eval()


@torch.inference_mode()
def _validate(
    module: nn.Module, task: Task, loader: DataLoader, spec: InputSpec, config: TrainConfig
) -> dict[str, float]:
    module.eval()
    metric = task.new_metric()
    for batch in loader:
        inputs, targets = task.prepare_batch(batch, spec)
        metric.update([output.float().cpu() for output in output_list(module(*_place(inputs, config)))], targets)
    return metric.compute()


def _distillation_loss(
    module: nn.Module, teacher: Teacher, inputs: list[torch.Tensor], targets: torch.Tensor
) -> torch.Tensor:
    with torch.no_grad():
        teacher_logits = output_list(teacher.module(*inputs))[0]
    student_logits = output_list(module(*inputs))[0]
    return hinton_loss(
        student_logits, teacher_logits, targets.to(student_logits.device), teacher.temperature, teacher.alpha
    )


def fit(
    module: nn.Module,
    task: Task,
    train_set: Dataset,
    val_set: Dataset,
    spec: InputSpec,
    config: TrainConfig,
    description: str = "train",
    teacher: Teacher | None = None,
) -> TrainResult:
    """Train `module` in place; on return it holds the weights of the best epoch.

    With a `teacher`, the loss is the distillation loss against its outputs (tasks with logits only)."""
    generator = seed_everything(config.seed)
    module.to(config.device)
    if config.channels_last:
        module.to(memory_format=torch.channels_last)
    train_loader = DataLoader(
        train_set,
        batch_size=config.batch_size or task.train_batch_size,
        shuffle=True,
        drop_last=True,
        generator=generator,
        collate_fn=task.collate,
    )
    val_loader = DataLoader(val_set, batch_size=task.eval_batch_size, shuffle=False, collate_fn=task.collate)
    optimizer = torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=config.lr,
        pct_start=config.warmup_fraction,
        total_steps=max(1, config.epochs * len(train_loader)),
    )
    if teacher is not None:
        teacher.module.to(config.device).eval()
    result = TrainResult(best_metric=float("-inf"), best_epoch=-1)
    best_state = copy.deepcopy(module.state_dict())
    with make_progress(transient=False) as progress:
        bar = progress.add_task(description, total=config.epochs * len(train_loader), status="")
        for epoch in range(config.epochs):
            module.train()
            running_loss = 0.0
            for step, batch in enumerate(train_loader, start=1):
                inputs, targets = task.prepare_batch(batch, spec)
                if config.augment:
                    inputs = task.augment(inputs, generator)
                placed = _place(inputs, config)
                if teacher is None:
                    loss = task.training_loss(module, placed, targets)
                else:
                    loss = _distillation_loss(module, teacher, placed, targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(module.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                running_loss += loss.item()
                progress.update(
                    bar, advance=1, status=f"epoch {epoch + 1}/{config.epochs} loss {running_loss / step:.3f}"
                )
            recalibrate_batchnorm(module, task, train_loader, spec, config)
            metrics = _validate(module, task, val_loader, spec, config)
            primary = metrics[task.primary_metric]
            result.history.append({"epoch": epoch + 1, "loss": running_loss / max(1, len(train_loader)), **metrics})
            if primary > result.best_metric:
                result.best_metric, result.best_epoch = primary, epoch + 1
                best_state = copy.deepcopy(module.state_dict())
            progress.console.print(
                f"{description}: epoch {epoch + 1}/{config.epochs} loss {result.history[-1]['loss']:.4f}"
                f" val {task.primary_metric} {primary:.4f}",
                highlight=False,
            )
    module.load_state_dict(best_state)
    module.cpu().to(memory_format=torch.contiguous_format).eval()
    return result
