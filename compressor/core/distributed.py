"""Data-parallel training under torchrun: the process group, which rank writes, and syncing state.

`torchrun --nproc_per_node N -m compressor distill ...` starts N copies of the command with RANK,
LOCAL_RANK and WORLD_SIZE set. Every rank trains a replica of the student (DistributedDataParallel
averages the gradients); rank 0 alone logs, validates and writes files. Without torchrun (or with
one process) nothing here does anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """True for the one process that logs and writes files (every process when not under torchrun)."""
    return rank() == 0


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def init_distributed(device: str) -> str:
    """Join torchrun's process group, NCCL on GPUs and gloo on CPU; return this rank's device.

    Multi-node runs need nothing more: torchrun's rendezvous gives every node the same group."""
    if world_size() == 1:
        return device
    if device.startswith("cuda"):
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not is_distributed():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return device


@contextmanager
def main_process_first() -> Iterator[None]:
    """Let rank 0 do the block first (e.g. train and cache a reference checkpoint), then the others."""
    if is_distributed() and not is_main_process():
        dist.barrier()
    yield
    if is_distributed() and is_main_process():
        dist.barrier()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def broadcast_buffers(module: nn.Module) -> None:
    """Give every rank rank 0's buffers (e.g. BatchNorm statistics each rank estimated on its own shard)."""
    if is_distributed():
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def broadcast_object(value: Any) -> Any:
    """Rank 0's `value` on every rank (e.g. validation metrics only rank 0 computed)."""
    if not is_distributed():
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
