"""The training state written after every epoch, so a killed run continues where it stopped.

It holds the model (with any distillation projections), optimizer, scheduler and gradient-scaler
states, the epoch, the best epoch's weights and the history. The random streams need no saving: the
trainer reseeds them from (seed, epoch, rank) at the start of every epoch, so a resumed run draws
exactly what the uninterrupted run drew. The file is plain tensors and values (read back with
`weights_only=True`) and is replaced atomically, so a kill mid-write leaves the previous epoch's.
"""

from __future__ import annotations

import dataclasses
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from compressor.core.errors import InputFileError, OptionError, brief
from compressor.core.files import atomic_path

STATE_FORMAT = "compressor.train-state/1"
# Options that change what a run computes: resuming under different ones would not continue it.
_RUN_DEFINING = ("epochs", "batch_size", "lr", "weight_decay", "warmup_fraction", "max_grad_norm", "augment", "seed")


def state_path_for(checkpoint: str | Path) -> Path:
    """Where the training state of the run that writes `checkpoint` lives: beside it, `NAME.state.pt`."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(f"{checkpoint.stem}.state.pt")


def run_signature(config: Any, world_size: int) -> dict[str, Any]:
    """The options a resumed run must share with the run it continues."""
    values = dataclasses.asdict(config)
    return {**{key: values[key] for key in _RUN_DEFINING}, "world_size": world_size}


def save_state(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save({"format": STATE_FORMAT, **state}, tmp)


def load_state(path: Path, signature: dict[str, Any]) -> dict[str, Any]:
    """The saved state, if it belongs to a run with this signature; a clear error otherwise."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError) as error:
        raise InputFileError(f"{path}: cannot read the training state to resume ({brief(error)})") from error
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise InputFileError(f"{path} is not a compressor training state")
    if state["signature"] != signature:
        changed = sorted(key for key in signature if state["signature"].get(key) != signature[key])
        was = ", ".join(f"{key}={state['signature'].get(key)}" for key in changed)
        raise OptionError(f"{path} was saved by a run with {was}; resume with the same options or drop --resume")
    return state
