"""`compress train`: a zoo model or file factory trained to a checkpoint."""

from __future__ import annotations

from pathlib import Path

from compressor.core.distributed import init_distributed, is_distributed
from compressor.core.errors import InputFileError, OptionError
from compressor.core.handle import ModelHandle
from compressor.data import DEFAULT_DATASET, load_dataset
from compressor.models.catalog import get_entry, is_zoo_name
from compressor.models.loading import RANDOM_WEIGHTS, is_file_factory, load_model
from compressor.models.pretrained import is_pretrained_request
from compressor.runtime.torch_runner import check_device
from compressor.training.checkpoints import train_config, train_handle
from compressor.training.fit import TrainConfig, TrainResult


def train(
    model: str,
    output: str | Path,
    data: str = DEFAULT_DATASET,
    epochs: int = 5,
    image_size: tuple[int, int] | None = None,
    fit: str | None = None,
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
    handle = load_model(model, bundle, weights=weights or RANDOM_WEIGHTS, image_size=image_size, new_head=True, fit=fit)
    return handle, train_handle(handle, bundle, output, epochs, config, resume=resume)
