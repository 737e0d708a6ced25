"""The one training loop: `compress train`, reference checkpoints, pruning's fine-tuning (with or
without distillation from the unpruned model) and `compress distill`.

AdamW with a one-cycle schedule and light augmentation: a recipe that trains the reference models
from scratch in minutes on a CPU. The best epoch by the task's primary metric is kept.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from compressor.core.distributed import broadcast_buffers, broadcast_object, is_main_process, rank, world_size
from compressor.core.handle import InputSpec
from compressor.core.progress import info, make_progress
from compressor.data.loader import OnePermutation, data_loader
from compressor.runtime.torch_runner import output_list
from compressor.tasks.base import Task
from compressor.training.distillation import DistillationStudent, Teacher
from compressor.training.state import load_state, run_signature, save_state


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
    channels_last: bool = True  # faster convolution training on CPU (oneDNN)
    mixed_precision: bool = True  # autocast on CUDA (bf16, or fp16 with loss scaling); CPU trains in fp32
    distributed: bool = False  # a DDP replica per torchrun process (set by commands that support it)


# How often the progress bar reads the running loss. Reading a CUDA tensor waits for every queued step;
# read once a step, the CPU could not prepare the next batch while the GPU computed this one.
LOSS_READ_INTERVAL_S = 0.5


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
    loader = data_loader(
        train_set,
        config.batch_size or task.train_batch_size,
        config.device,
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


def _epoch_seed(config: TrainConfig, epoch: int) -> int:
    """The seed of one epoch's random streams (shuffle, augmentation, dropout) on this rank.

    Reseeding every epoch makes the streams a function of (seed, epoch, rank): a resumed run draws
    exactly what the uninterrupted run drew, with no generator state to save."""
    return config.seed + 1_000_003 * epoch + 7_919 * rank()


def _train_loader(train_set: Dataset, task: Task, config: TrainConfig, generator: torch.Generator) -> DataLoader:
    """Shuffled training batches; under DDP each rank gets its own shard (DistributedSampler)."""
    batch_size = config.batch_size or task.train_batch_size
    if config.distributed:
        sampler = DistributedSampler(train_set, shuffle=True, seed=config.seed, drop_last=True)
        return data_loader(
            train_set, batch_size, config.device, sampler=sampler, drop_last=True, collate_fn=task.collate
        )
    order = OnePermutation(len(train_set), generator)  # type: ignore[arg-type]
    options = {"sampler": order, "drop_last": True, "generator": generator, "collate_fn": task.collate}
    return data_loader(train_set, batch_size, config.device, **options)


def _autocast_dtype(config: TrainConfig) -> torch.dtype | None:
    """Mixed precision on CUDA: bf16 where the GPU has it (no loss scaling needed), else fp16."""
    if not (config.mixed_precision and config.device.startswith("cuda")):
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class RunningLoss:
    """An epoch's mean batch loss, summed on the device and read (a GPU sync) only when asked."""

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None  # on the losses' own device, in float64 as a sum of floats was
        self.steps = 0
        self.last_read = float("-inf")

    def add(self, loss: torch.Tensor) -> None:
        self.total = loss.double() if self.total is None else self.total + loss.double()
        self.steps += 1

    def read_due(self) -> bool:
        """Whether LOSS_READ_INTERVAL_S has passed since the last read (the first step's is due)."""
        return time.monotonic() - self.last_read >= LOSS_READ_INTERVAL_S

    def mean(self) -> float:
        self.last_read = time.monotonic()
        return 0.0 if self.total is None else self.total.item() / self.steps


class _Run:
    """One training run's moving parts: the model as optimised (with a teacher's loss, wrapped in DDP
    under torchrun), optimizer, schedule, loss scaling, the best epoch so far, and its saved state."""

    def __init__(
        self,
        module: nn.Module,
        task: Task,
        config: TrainConfig,
        steps_per_epoch: int,
        teacher: Teacher | None,
        probe: list[torch.Tensor],
    ) -> None:
        self.module, self.task, self.config = module, task, config
        self.distiller = DistillationStudent(module, teacher, probe) if teacher is not None else None
        self.trained: nn.Module = self.distiller if self.distiller is not None else module  # incl. projections
        self.model = DistributedDataParallel(self.trained) if config.distributed else self.trained
        self.optimizer = torch.optim.AdamW(self.trained.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer,
            max_lr=config.lr,
            pct_start=config.warmup_fraction,
            total_steps=max(1, config.epochs * steps_per_epoch),
        )
        self.autocast_dtype = _autocast_dtype(config)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast_dtype == torch.float16)
        self.signature = run_signature(config, world_size())
        self.result = TrainResult(best_metric=float("-inf"), best_epoch=-1)
        self.best_state = copy.deepcopy(module.state_dict())
        self.epochs_done = 0

    def step(self, inputs: list[torch.Tensor], targets: Any) -> torch.Tensor:
        """One optimisation step; returns the batch loss, on the device (reading it would wait for the GPU)."""
        with torch.autocast(
            "cuda", dtype=self.autocast_dtype or torch.float16, enabled=self.autocast_dtype is not None
        ):
            if self.distiller is None:
                loss = self.task.training_loss(self.model, inputs, targets)
            else:
                loss = self.distiller.loss(self.model(*inputs), self.distiller.teacher_outputs(inputs), targets)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.max_grad_norm is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.trained.parameters(), self.config.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.detach().float()

    def record(self, epoch: int, loss: float, metrics: dict[str, float]) -> float:
        """Log an epoch's validation metrics, keeping the weights if they are the best so far."""
        primary = metrics[self.task.primary_metric]
        self.result.history.append({"epoch": epoch, "loss": loss, **metrics})
        if primary > self.result.best_metric:
            self.result.best_metric, self.result.best_epoch = primary, epoch
            self.best_state = copy.deepcopy(self.module.state_dict())
        self.epochs_done = epoch
        return primary

    def status(self, epoch: int, mean_loss: float) -> str:
        """The progress bar's status: this epoch's loss so far and the latest validation metric, if any."""
        latest = ""
        if self.result.history:
            latest = f" val {self.task.primary_metric} {self.result.history[-1][self.task.primary_metric]:.4f}"
        return f"epoch {epoch + 1}/{self.config.epochs} loss {mean_loss:.3f}{latest}"

    def save(self, path: Path) -> None:
        save_state(
            path,
            {
                "signature": self.signature,
                "epoch": self.epochs_done,
                "model": self.trained.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "best_metric": self.result.best_metric,
                "best_epoch": self.result.best_epoch,
                "best_state": self.best_state,
                "history": self.result.history,
            },
        )

    def restore(self, path: Path) -> None:
        state = load_state(path, self.signature)
        self.trained.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epochs_done, self.best_state = state["epoch"], state["best_state"]
        self.result = TrainResult(state["best_metric"], state["best_epoch"], state["history"])

    def finish(self) -> TrainResult:
        """The best epoch's weights back in the module, the hooks of distillation removed."""
        if self.distiller is not None:
            self.distiller.release()
        self.module.load_state_dict(self.best_state)
        return self.result


def fit(
    module: nn.Module,
    task: Task,
    train_set: Dataset,
    val_set: Dataset,
    spec: InputSpec,
    config: TrainConfig,
    description: str = "train",
    teacher: Teacher | None = None,
    state_path: Path | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train `module` in place; on return it holds the weights of the best epoch.

    With a `teacher`, the loss is the distillation loss against its outputs. With `state_path`, the
    training state is saved there after every epoch and, with `resume`, a run continues from it.
    Under torchrun (config.distributed) every rank trains a DDP replica and rank 0 validates."""
    generator = seed_everything(config.seed)
    module.to(config.device)
    if config.channels_last:
        module.to(memory_format=torch.channels_last)
    train_loader = _train_loader(train_set, task, config, generator)
    val_loader = data_loader(val_set, task.eval_batch_size, config.device, shuffle=False, collate_fn=task.collate)
    if teacher is not None:
        teacher.module.to(config.device).eval()
    probe = _place(task.prepare_batch(next(iter(val_loader)), spec)[0], config) if teacher else []
    run = _Run(module, task, config, len(train_loader), teacher, probe)
    if resume and state_path is not None and state_path.is_file():
        run.restore(state_path)
        info(f"{description}: resuming after epoch {run.epochs_done}/{config.epochs} from {state_path}")
    try:
        with make_progress(transient=False) as progress:
            steps = len(train_loader)
            bar = progress.add_task(
                description, total=config.epochs * steps, completed=run.epochs_done * steps, status=""
            )
            for epoch in range(run.epochs_done, config.epochs):
                generator.manual_seed(_epoch_seed(config, epoch))
                torch.manual_seed(_epoch_seed(config, epoch))
                if isinstance(train_loader.sampler, DistributedSampler):
                    train_loader.sampler.set_epoch(epoch)
                run.model.train()
                running_loss = RunningLoss()
                for batch in train_loader:
                    inputs, targets = task.prepare_batch(batch, spec)
                    if config.augment:
                        inputs = task.augment(inputs, generator)
                    running_loss.add(run.step(_place(inputs, config), targets))
                    progress.update(bar, advance=1)
                    if running_loss.read_due():
                        progress.update(bar, status=run.status(epoch, running_loss.mean()))
                metrics = None
                if is_main_process():
                    recalibrate_batchnorm(module, task, train_loader, spec, config)
                    metrics = _validate(module, task, val_loader, spec, config)
                broadcast_buffers(module)
                epoch_loss = running_loss.mean()
                primary = run.record(epoch + 1, epoch_loss, broadcast_object(metrics))
                progress.update(bar, status=run.status(epoch, epoch_loss))  # with its val
                info(
                    f"{description}: epoch {epoch + 1}/{config.epochs} loss {epoch_loss:.4f}"
                    f" val {task.primary_metric} {primary:.4f}"
                )
                if state_path is not None and is_main_process():
                    run.save(state_path)
    finally:
        result = run.finish()
    module.cpu().to(memory_format=torch.contiguous_format).eval()
    return result
