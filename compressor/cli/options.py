"""Options and arguments several commands share, and the parsers of their text values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from compressor.core.errors import OptionError, UnknownNameError


def int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UnknownNameError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not values or any(value < 1 for value in values):
        raise UnknownNameError(f"{what} must be positive integers, got {text!r}")
    return values


def float_list(text: str, what: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise OptionError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise OptionError(f"{what} must list at least one number")
    return values


def names_list(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def image_size_pair(size: str | None) -> tuple[int, int] | None:
    """--image-size as (height, width): `S` is a square, `H,W` height and width."""
    from compressor.core.image_size import parse_image_size

    return parse_image_size(size)


ModelArg = Annotated[
    str, typer.Argument(metavar="MODEL", help="Zoo name, path/to/file.py:factory, a checkpoint, or an .onnx file.")
]
DataOpt = Annotated[str, typer.Option("--data", help="Built-in dataset name (shapes) or an ImageFolder directory.")]
WeightsOpt = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="Checkpoint or state_dict for a zoo model; 'random' skips the reference checkpoint; 'imagenet' "
        "(classifiers) or 'coco' (detectors) takes torchvision's published weights.",
    ),
]
Fit = Literal["crop", "squash", "letterbox"]
FitOpt = Annotated[
    Fit | None,
    typer.Option(
        "--fit",
        help="How an image file becomes the input: crop (short side, then the centre; the default), squash "
        "(resized to exactly the input size) or letterbox (aspect kept, padded with grey 114).",
    ),
]
ImageSizeOpt = Annotated[
    str | None,
    typer.Option("--image-size", help="Input size: S for a square, H,W for height and width; default: the data's own."),
]


def path_not_flag(value: Path) -> Path:
    """`-o --force` would otherwise write into a folder named --force: the user's path went missing."""
    if str(value).startswith("-"):
        raise typer.BadParameter(f"{value} looks like an option, not a path: give the path after -o")
    return writable_path(value)


def writable_path(value: Path | None) -> Path | None:
    """An output under a file (`report.json/out`) cannot be written: said before the run, not after it."""
    blocking = next((parent for parent in (value.parents if value else []) if parent.is_file()), None)
    if blocking is not None:
        raise typer.BadParameter(f"{blocking} is a file, so nothing can be written under it")
    return value


OutDirOpt = Annotated[
    Path, typer.Option("-o", "--output", callback=path_not_flag, help="Directory for the models and report.")
]
DeviceOpt = Annotated[str, typer.Option(help="cpu or cuda.")]
MeasureBackendsOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="Comma-separated backends to measure on (any registered one); default torch,onnxruntime.",
    ),
]
BatchSizesOpt = Annotated[str, typer.Option("--batch-sizes", help="Comma-separated batch sizes to time.")]
MaxSamplesOpt = Annotated[int | None, typer.Option(min=1, help="Score at most this many val samples.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite the results already in OUTDIR.")]
ResumeOpt = Annotated[
    bool, typer.Option("--resume", help="Continue an interrupted run from the state saved after its last epoch.")
]
DumpRecipeOpt = Annotated[
    bool, typer.Option("--dump-recipe", help="Print the recipe this command would run (for `compress run`) and stop.")
]
SearchResumeOpt = Annotated[
    bool, typer.Option("--resume", help="Continue an interrupted run: finished stages and candidates are kept.")
]
AutoOpt = Annotated[
    bool,
    typer.Option("--auto", help="Try the usual candidates; keep the fastest within --max-accuracy-drop (a search)."),
]
MaxMinutesOpt = Annotated[
    float | None,
    typer.Option("--max-minutes", help="--auto: start no candidate after this many minutes; the best so far stands."),
]
Int8Method = Literal["static", "dynamic"]
Calibration = Literal["minmax", "entropy", "percentile"]
ExportFormat = Literal["onnx", "openvino", "tensorrt", "jetson"]
Norm = Literal["l1", "l2"]
SweepBy = Literal["sparsity", "threshold"]
