"""Checkpoints that reload without running pickled code.

A compressor checkpoint is a dict of plain values and tensors saved with `torch.save` (read back with
`weights_only=True`) or a `.safetensors` file whose header metadata holds the same description.
"""

from __future__ import annotations

import json
import pickle
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file as save_safetensors
from torch import nn

from compressor.core.errors import InputFileError, ModelMismatchError, brief
from compressor.core.files import atomic_path
from compressor.models.trust import pickles_trusted

CHECKPOINT_FORMAT = "compressor.checkpoint/1"
# A checkpoint's recorded `precision`, when its model runs in a 16-bit float type.
REDUCED_PRECISION_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
_META_KEY = "compressor"


@dataclass
class Checkpoint:
    """A state_dict and, for compressor checkpoints, the description of the model it belongs to."""

    state_dict: dict[str, torch.Tensor]
    description: dict[str, Any] | None  # None for a plain state_dict
    module: torch.nn.Module | None = None  # a whole pickled model, read only with --trust-checkpoint

    @property
    def is_described(self) -> bool:
        return self.description is not None


def save_checkpoint(path: str | Path, state_dict: dict[str, torch.Tensor], description: dict[str, Any]) -> Path:
    """Write a checkpoint atomically; `.safetensors` gives a safetensors file, anything else torch.save."""
    path = Path(path)
    tensors = {key: value.detach().cpu().contiguous() for key, value in state_dict.items()}
    description = {"format": CHECKPOINT_FORMAT, **description}
    with atomic_path(path) as tmp:
        if path.suffix == ".safetensors":
            save_safetensors(tensors, str(tmp), metadata={_META_KEY: json.dumps(description)})
        else:
            torch.save({**description, "state_dict": tensors}, tmp)
    return path


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a compressor checkpoint or a plain state_dict from .pt/.pth/.safetensors, safely."""
    path = Path(path)
    if path.is_dir():
        raise InputFileError(f"{path} is a directory, not a checkpoint file (pass a model directory as the model)")
    if not path.is_file():
        raise InputFileError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    if _is_torchscript(path):  # TorchScript modules take no forward hooks: not counted, pruned or distilled
        raise InputFileError(
            f"{path} is a TorchScript archive; compressor works on the Python model: pass the code that builds it "
            "as file.py:factory with its state_dict as --weights, or its ONNX export "
            "(torch.onnx.export(torch.jit.load(path), example, 'model.onnx', dynamo=False)) to bench and quantize"
        )
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of files it then refuses
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=not pickles_trusted())
    except pickle.UnpicklingError as error:
        if "weights_only" in str(error) or "Unsupported global" in str(error):
            raise InputFileError(
                f"{path} holds pickled Python objects besides tensors and was not loaded (unpickling can run "
                "code). Save a state_dict instead, or pass --trust-checkpoint if you trust the file "
                f"({brief(error, 120)})"
            ) from error
        raise InputFileError(f"{path} is not a readable torch checkpoint: {brief(error)}") from error
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        message = f"{path} is not a readable torch checkpoint (truncated or corrupt?): {brief(error)}"
        raise InputFileError(message) from error
    except Exception as error:  # a trusted pickle can fail in any way its own code does
        raise InputFileError(f"{path} could not be unpickled: {brief(error)}") from error
    module = _pickled_model(payload)
    if module is not None:  # a trusted, whole pickled model: it is its own architecture
        module = module.float()
        return Checkpoint(module.state_dict(), None, module)
    return _from_payload(path, payload)


def _is_torchscript(path: Path) -> bool:
    """A `torch.jit.save` archive: a zip holding the model's TorchScript code beside its weights."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())


def _pickled_model(payload: Any) -> torch.nn.Module | None:
    """The model in a trusted pickle: the payload itself (`torch.save(model)`) or its "model" entry, as
    training scripts such as YOLOv5's save it beside the optimizer state (sometimes in half precision)."""
    if isinstance(payload, dict):
        payload = payload.get("ema") or payload.get("model")
    return payload if isinstance(payload, torch.nn.Module) else None


def _read_safetensors(path: Path) -> Checkpoint:
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state_dict = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (safe_open, not a dict)
    except (SafetensorError, OSError, ValueError) as error:
        raise InputFileError(f"{path} is not a readable safetensors file: {brief(error)}") from error
    description = json.loads(metadata[_META_KEY]) if _META_KEY in metadata else None
    return Checkpoint(state_dict, description)


def _from_payload(path: Path, payload: Any) -> Checkpoint:
    if isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT:
        description = {key: value for key, value in payload.items() if key != "state_dict"}
        return Checkpoint(payload["state_dict"], description)
    if isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict):
        payload = payload["state_dict"]  # a common training-script layout: {"state_dict": ..., "epoch": ...}
    if isinstance(payload, dict) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        return Checkpoint(payload, None)
    raise InputFileError(f"{path} holds no state_dict (expected a dict of tensor names to tensors)")


def apply_state_dict(module: nn.Module, state_dict: dict[str, torch.Tensor], origin: str) -> None:
    """Load weights strictly, naming the first mismatch in words a user can act on."""
    own = module.state_dict()
    missing = [key for key in own if key not in state_dict]
    unexpected = [key for key in state_dict if key not in own]
    if missing or unexpected:
        raise ModelMismatchError(
            f"{origin} does not fit this architecture: {len(missing)} missing keys (e.g. {missing[:2]}), "
            f"{len(unexpected)} unexpected keys (e.g. {unexpected[:2]})"
        )
    for key, tensor in state_dict.items():
        if own[key].shape != tensor.shape:
            raise ModelMismatchError(
                f"{origin} does not fit this architecture: {key} has shape {tuple(tensor.shape)} in the file but "
                f"{tuple(own[key].shape)} in the model (different number of classes or another architecture?)"
            )
    module.load_state_dict(state_dict)
