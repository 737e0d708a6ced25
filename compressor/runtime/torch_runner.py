"""Eager PyTorch on CPU or CUDA."""

from __future__ import annotations

import copy

import torch
from torch import nn

from compressor.core.errors import BackendUnavailableError


def check_device(device: str) -> None:
    if device not in ("cpu", "cuda"):
        raise BackendUnavailableError(f"unknown device {device!r}; use cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise BackendUnavailableError("--device cuda was asked for, but torch sees no CUDA GPU on this machine")


def output_list(outputs: torch.Tensor | dict[str, torch.Tensor] | tuple | list) -> list[torch.Tensor]:
    """A model's outputs as a list, whether it returns one tensor, a tuple or a dict."""
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        return list(outputs.values())
    return list(outputs)


def reduced_precision(module: nn.Module) -> torch.dtype | None:
    """fp16 or bf16 when the model's weights are (e.g. model.fp16.pt from `compress quantize`), else None."""
    dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()), torch.float32)
    return dtype if dtype in (torch.float16, torch.bfloat16) else None


def _cast_floating(inputs: list[torch.Tensor], dtype: torch.dtype | None) -> list[torch.Tensor]:
    return [tensor.to(dtype) if dtype and tensor.is_floating_point() else tensor for tensor in inputs]


def in_model_precision(module: nn.Module, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """`inputs` as `module` takes them: fp16/bf16 models take floating inputs in their own dtype."""
    return _cast_floating(inputs, reduced_precision(module))


class TorchRunner:
    backend = "torch"

    def __init__(self, module: nn.Module, device: str = "cpu", dtype: torch.dtype | None = None) -> None:
        check_device(device)
        self.device = device
        # A private copy: moving or casting it never changes the caller's model.
        self.module = copy.deepcopy(module).eval().to(device)
        if dtype is not None:
            self.module = self.module.to(dtype)
        self.dtype = dtype or reduced_precision(self.module)  # found once, not on every timed call

    def to_device(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return _cast_floating([tensor.to(self.device, non_blocking=True) for tensor in inputs], self.dtype)

    @torch.inference_mode()
    def _forward(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return output_list(self.module(*inputs))

    def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [output.float().cpu() for output in self._forward(self.to_device(inputs))]

    def run_on_device(self, inputs: list[torch.Tensor]) -> None:
        self._forward(inputs)

    def synchronize(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()

    def close(self) -> None:
        del self.module
        if self.device == "cuda":
            torch.cuda.empty_cache()
