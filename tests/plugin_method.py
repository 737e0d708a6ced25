"""A third-party method in a file of its own, as a package would offer it through `compressor.methods`:
one options class and one function that applies it."""

from __future__ import annotations

import copy
import dataclasses
from typing import ClassVar

import torch
from pydantic import Field

import compressor as cz


class RoundWeights(cz.MethodConfig):
    """Every float weight rounded to `decimals` places (a toy method: the model keeps its form)."""

    kind: ClassVar[str] = "round_weights"
    variant: ClassVar[str] = "rounded"
    needs_torch: ClassVar[bool] = True

    decimals: int = Field(default=2, ge=0)


@cz.register_method(RoundWeights)
def round_weights(model: cz.ModelHandle, config: RoundWeights, data: object, work: cz.Workspace) -> cz.ModelHandle:
    module = copy.deepcopy(model.module)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.round(parameter, decimals=config.decimals))
    return dataclasses.replace(model, module=module, artifacts={})
