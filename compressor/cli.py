"""The `compress` command line. Each command parses flags, calls one library function, prints the result."""

from __future__ import annotations

import functools
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from compressor.compare import compare_files
from compressor.compare import to_markdown as comparison_markdown
from compressor.errors import CompressorError, OptionError, UnknownNameError, brief
from compressor.fsutil import removed_on_failure, write_text_atomic
from compressor.models.trust import trust_pickled_checkpoints
from compressor.report import Report, to_markdown, write_report

# The library (torch, torchvision, onnx, onnxruntime: about 7 s to import) is imported by the commands
# that use it, so `--help`, option errors and `compress compare` (a CI gate reading two JSON files)
# answer at once.
if TYPE_CHECKING:
    from compressor.recipe import Recipe
    from compressor.stages import Stage

app = typer.Typer(
    name="compress",
    help="Model compression and edge deployment: quantize, prune, distill, export, and measure before/after.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stdout = Console(width=None if sys.stdout.isatty() else 160)  # logs and pipes get whole table rows
stderr = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
StageT = TypeVar("StageT", bound="Stage")


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, a cluster's time limit): unwinds like Ctrl-C, so every file being
    written is either left as it was or replaced whole."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


_debug = False
INTERNAL_ERROR_EXIT = 3  # a bug of ours, not the user's input (2) nor a compare regression (1)


@app.callback()
def global_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error.")] = False,
    trust_checkpoint: Annotated[
        bool,
        typer.Option("--trust-checkpoint", help="Load full pickles (they can run code): only for files you trust."),
    ] = False,
) -> None:
    """Model compression and edge deployment: quantize, prune, distill, export, and measure before/after."""
    global _debug
    _debug = debug
    trust_pickled_checkpoints(trust_checkpoint)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


def _error_line(label: str, message: str) -> None:
    stderr.print(Text.assemble((label, "red"), " ".join(message.split())), highlight=False, soft_wrap=True)


def user_errors(command: F) -> F:
    """Turn a CompressorError into one red line on stderr and its exit code; no traceback (--debug shows it)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CompressorError as error:
            if _debug:
                raise
            _error_line("error: ", str(error))  # one line, whatever the underlying library said
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt as interruption:
            what = "terminated" if isinstance(interruption, Terminated) else "interrupted"
            _error_line(f"{what}: ", "no half-written file was left (train, distill and run continue with --resume)")
            raise typer.Exit(143 if isinstance(interruption, Terminated) else 130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as error:  # a bug: still one line, with the way to the traceback
            if _debug:
                raise
            _error_line("internal error: ", f"{type(error).__name__}: {brief(error)} (rerun with --debug to see where)")
            raise typer.Exit(INTERNAL_ERROR_EXIT) from None

    return wrapper  # type: ignore[return-value]


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UnknownNameError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not values or any(value < 1 for value in values):
        raise UnknownNameError(f"{what} must be positive integers, got {text!r}")
    return values


def _image_size(size: int | None) -> tuple[int, int] | None:
    return (size, size) if size else None


ModelArg = Annotated[str, typer.Argument(help="Zoo name, path/to/file.py:factory, a checkpoint, or an .onnx file.")]
DataOpt = Annotated[str, typer.Option("--data", help="Built-in dataset name (shapes) or an ImageFolder directory.")]
WeightsOpt = Annotated[
    str | None,
    typer.Option(
        "--weights", help="Checkpoint or state_dict for a zoo model; 'random' skips the reference checkpoint."
    ),
]
ImageSizeOpt = Annotated[int | None, typer.Option("--image-size", help="Square input size; default: the data's own.")]


def _path_not_flag(value: Path) -> Path:
    """`-o --force` would otherwise write into a folder named --force: the user's path went missing."""
    if str(value).startswith("-"):
        raise typer.BadParameter(f"{value} looks like an option, not a path: give the path after -o")
    return value


OutDirOpt = Annotated[
    Path, typer.Option("-o", "--output", callback=_path_not_flag, help="Directory for the models and report.")
]
DeviceOpt = Annotated[str, typer.Option(help="cpu or cuda.")]
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


Int8Method = Literal["static", "dynamic"]
Calibration = Literal["minmax", "entropy", "percentile"]
ExportFormat = Literal["onnx", "tensorrt", "jetson"]
Norm = Literal["l1", "l2"]
SweepBy = Literal["sparsity", "threshold"]


@app.command("models")
@user_errors
def models_command() -> None:
    """List the reference zoo: task, default input size and source of each model."""
    from compressor.models.registry import list_entries  # not the api: no onnx or torchvision to import

    table = Table("model", "task", "default input", "source", "description")
    for column in table.columns[:4]:
        column.no_wrap = True
    for entry in list_entries():
        table.add_row(entry.name, entry.task, "x".join(map(str, entry.input_size)), entry.source, entry.description)
    stdout.print(table)


@app.command("train")
@user_errors
def train_command(
    model: ModelArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", callback=_path_not_flag, help="Checkpoint to write (.pt or .safetensors).")
    ],
    data: DataOpt = "shapes",
    epochs: Annotated[int, typer.Option(min=1)] = 5,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Default: 32, or 8 for detectors.")] = None,
    lr: Annotated[float | None, typer.Option(min=0.0, help="Default: the model's recipe (2e-3 for most).")] = None,
    seed: int = 0,
    image_size: ImageSizeOpt = None,
    device: DeviceOpt = "cpu",
    resume: ResumeOpt = False,
    force: Annotated[bool, typer.Option("--force", help="Train over an existing checkpoint at --output.")] = False,
) -> None:
    """Train a model from scratch on a dataset and save a self-describing checkpoint (under torchrun: DDP)."""
    from compressor import api

    config = api.train_config(model, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device)
    size = _image_size(image_size)
    api.train(model, output, data=data, epochs=epochs, image_size=size, config=config, resume=resume, force=force)


@app.command("export")
@user_errors
def export_command(
    model: ModelArg,
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            callback=_path_not_flag,
            help="File to write (onnx, tensorrt) or bundle directory (jetson).",
        ),
    ],
    format: Annotated[ExportFormat, typer.Option("--format", help="onnx, tensorrt or jetson.")] = "onnx",
    precision: Annotated[
        str | None,
        typer.Option(help="tensorrt: fp32, fp16 or int8 (default fp32); jetson: int8 or fp16 (default int8)."),
    ] = None,
    weights: WeightsOpt = None,
    data: DataOpt = "shapes",
    opset: Annotated[int | None, typer.Option(min=17, help="ONNX opset (default 18; jetson: 17).")] = None,
    image_size: ImageSizeOpt = None,
    jetpack: Annotated[str, typer.Option(help="jetson: the JetPack on the board (6.2 ships TensorRT 10.3).")] = "6.2",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="jetson: the static batch size.")] = 1,
    max_batch: Annotated[
        int, typer.Option("--max-batch", min=1, help="tensorrt: largest batch the engine takes.")
    ] = 32,
    timing_cache: Annotated[
        Path | None, typer.Option("--timing-cache", help="tensorrt: timing cache to reuse (default: beside -o).")
    ] = None,
    calibration: Annotated[Calibration, typer.Option(help="int8: range calibration.")] = "minmax",
    calib_samples: Annotated[int, typer.Option("--calib-samples", min=1, help="int8: train samples.")] = 256,
    max_samples: MaxSamplesOpt = None,
    force: ForceOpt = False,
    dump_recipe: DumpRecipeOpt = False,
) -> None:
    """Export to ONNX (dynamic batch; parity-tested against torch), a TensorRT engine, or a Jetson bundle."""
    from compressor import api
    from compressor.export.tensorrt import BatchProfile
    from compressor.methods.quantize import Int8Request
    from compressor.stages import ExportStage
    from compressor.tasks import get_task

    if dump_recipe:
        stage = _stage(
            ExportStage, format=format, precision=precision, opset=opset, jetpack=jetpack, batch_size=batch_size,
            max_batch=max_batch, calibration=calibration, calib_samples=calib_samples,
        )  # fmt: skip
        run = _run_spec(data, weights, image_size, "cpu", "1,16", max_samples)
        _dump_or_run_stage("export", stage, model, run, output, force, dump_recipe)
        return
    size = _image_size(image_size)
    int8 = Int8Request(calibration=calibration, calib_samples=calib_samples)
    if format == "tensorrt":
        record = api.export_tensorrt(
            model, output, precision or "fp32", data=data, weights=weights, image_size=size,
            batch=BatchProfile(1, min(8, max_batch), max_batch), timing_cache=timing_cache, int8=int8,
        )  # fmt: skip
        stdout.print(f"wrote {output} ({record.precision}, TensorRT {record.tensorrt_version}, {record.gpu})")
        return
    if format == "jetson":
        with removed_on_failure(output):
            manifest = api.export_jetson(
                model, output, precision or "int8", data=data, weights=weights, image_size=size, jetpack=jetpack,
                batch_size=batch_size, int8=int8, max_samples=max_samples, force=force,
            )  # fmt: skip
        accuracy = manifest.expected_accuracy
        stdout.print(
            f"wrote {output}/ (model.onnx {manifest.precision}, static {manifest.inputs[0].shape}, JetPack "
            f"{manifest.jetpack}/TensorRT {manifest.tensorrt}); {accuracy.metric} {accuracy.bundle:.4f} on "
            f"onnxruntime here, fp32 {accuracy.fp32:.4f}",
            highlight=False,
        )
        return
    if precision not in (None, "fp32"):
        raise OptionError("--format onnx writes the float model; quantize it with `compress quantize`")
    handle, parity = api.export(model, output, data=data, weights=weights, image_size=size, opset=opset)
    verdict = "ok" if parity.within_tolerance else "[yellow]above 1e-4[/yellow]"
    axes = sorted(
        {name for per_tensor in get_task(handle.task).dynamic_axes().values() for name in per_tensor.values()}
    )
    shapes = f"dynamic {', '.join(axes)}" if axes else "static shapes"
    stdout.print(f"wrote {output} (input {list(handle.input_spec.shape)}, {shapes})")
    stdout.print(f"parity vs torch: {parity.summary()} ({verdict})", highlight=False)


@app.command("bench")
@user_errors
def bench_command(
    model: ModelArg,
    weights: WeightsOpt = None,
    data: DataOpt = "shapes",
    backend: Annotated[
        str, typer.Option("--backend", help="Comma-separated: torch,onnxruntime.")
    ] = "torch,onnxruntime",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    batch_sizes: Annotated[str, typer.Option("--batch-sizes", help="Comma-separated batch sizes to time.")] = "1,16",
    max_samples: Annotated[int | None, typer.Option(min=1, help="Score at most this many val samples.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the report here (report contract).")] = None,
    markdown_path: Annotated[Path | None, typer.Option("--markdown", help="Also write the Markdown table.")] = None,
    image_size: ImageSizeOpt = None,
    profile: Annotated[
        bool, typer.Option("--profile", help="Also onnxruntime's kernel time by op type (its profiler, CPU).")
    ] = False,
    dump_recipe: DumpRecipeOpt = False,
) -> None:
    """Measure accuracy, latency (p50/p90/p99), FPS, memory, size, params and MACs per backend."""
    from compressor import api
    from compressor.runtime import parse_backends
    from compressor.stages import BenchStage

    if dump_recipe:
        run = _run_spec(data, weights, image_size, device, batch_sizes, max_samples)
        stage = _stage(BenchStage, backends=parse_backends(backend), profile=profile)
        _dump_or_run_stage("bench", stage, model, run, Path("."), False, dump_recipe)
        return
    report = api.bench(
        model,
        data=data,
        weights=weights,
        backends=parse_backends(backend),
        device=device,
        batch_sizes=_int_list(batch_sizes, "--batch-sizes"),
        max_samples=max_samples,
        image_size=_image_size(image_size),
        profile=profile,
    )
    if json_path is not None:
        write_report(report, json_path, markdown_path)
    stdout.print(to_markdown(report), highlight=False, markup=False, soft_wrap=True)


@app.command("quantize")
@user_errors
def quantize_command(
    model: ModelArg,
    output: OutDirOpt,
    precision: Annotated[
        str | None, typer.Option("--precision", help="int8, fp16 or bf16 (or --auto to try them).")
    ] = None,
    weights: WeightsOpt = None,
    data: DataOpt = "shapes",
    method: Annotated[
        Int8Method | None,
        typer.Option(help="int8: static (calibrated) or dynamic. Default: dynamic for text models, else static."),
    ] = None,
    calibration: Annotated[Calibration, typer.Option(help="int8 static: range calibration.")] = "minmax",
    calib_samples: Annotated[int, typer.Option("--calib-samples", min=1, help="Train samples to calibrate on.")] = 256,
    exclude: Annotated[
        str, typer.Option(help="Comma-separated node names or op types to keep in float (e.g. Gemm).")
    ] = "",
    max_accuracy_drop: Annotated[
        float | None,
        typer.Option(
            "--max-accuracy-drop",
            min=0.0,
            help="Points of the primary metric int8 may lose; beyond it, sensitive layers go back to float.",
        ),
    ] = None,
    tune_speed: Annotated[
        bool, typer.Option(help="int8: time op groups in float vs int8 here; keep float where that is faster.")
    ] = True,
    device: DeviceOpt = "cpu",
    batch_sizes: BatchSizesOpt = "1,16",
    max_samples: MaxSamplesOpt = None,
    image_size: ImageSizeOpt = None,
    force: ForceOpt = False,
    auto: AutoOpt = False,
    resume: SearchResumeOpt = False,
    dump_recipe: DumpRecipeOpt = False,
) -> None:
    """Quantize to int8, fp16 or bf16 and measure it against the fp32 baseline, side by side, in one run."""
    from compressor.recipe import Recipe, auto_quantize_search
    from compressor.stages import QuantizeStage

    run = _run_spec(data, weights, image_size, device, batch_sizes, max_samples)
    options = {"method": method, "calib_samples": calib_samples, "tune_speed": tune_speed, "exclude": _names(exclude)}
    if auto:
        _refuse_alongside_auto({"--precision": precision})
        search = auto_quantize_search(options, max_accuracy_drop)
        _dump_or_run(Recipe(model=model, search=search, **run), output, force, dump_recipe, resume)
        return
    if precision is None:
        raise OptionError("give --precision int8|fp16|bf16, or --auto to try each within --max-accuracy-drop")
    stage = _stage(
        QuantizeStage, precision=precision, calibration=calibration, max_accuracy_drop=max_accuracy_drop, **options
    )
    _dump_or_run_stage("quantize", stage, model, run, output, force, dump_recipe)


def _refuse_alongside_auto(given: dict[str, object]) -> None:
    """--auto chooses these itself; a value the user also gave would otherwise be ignored without a word."""
    named = [flag for flag, value in given.items() if value is not None]
    if named:
        raise OptionError(f"--auto tries its own candidates; drop {' and '.join(named)} or drop --auto")


def _float_list(text: str, what: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise OptionError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise OptionError(f"{what} must list at least one number")
    return values


@app.command("prune")
@user_errors
def prune_command(
    model: ModelArg,
    output: OutDirOpt,
    sparsity: Annotated[
        float | None, typer.Option(help="Remove this fraction of channels (structured) or weights (unstructured).")
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Remove channels/weights whose magnitude is below T times their layer's mean (e.g. 0.5)."),
    ] = None,
    structured: Annotated[
        bool, typer.Option("--structured/--unstructured", help="Whole channels (faster) or single weights.")
    ] = True,
    pattern: Annotated[
        str | None, typer.Option(help="With --unstructured: 2:4 semi-structured sparsity (sparse tensor cores).")
    ] = None,
    norm: Annotated[Norm, typer.Option(help="Magnitude: L1 or L2 over each channel's group.")] = "l2",
    global_ranking: Annotated[
        bool, typer.Option("--global", help="Rank all layers together instead of each layer on its own.")
    ] = False,
    ignore: Annotated[str, typer.Option(help="Comma-separated module names left unpruned (with their children).")] = "",
    round_to: Annotated[
        int, typer.Option("--round-to", min=1, help="Keep channel counts multiples of N (16 suits x86 CPUs).")
    ] = 16,
    steps: Annotated[int, typer.Option(min=1, help="Prune in N steps, fine-tuning between them.")] = 1,
    finetune_epochs: Annotated[int, typer.Option("--finetune-epochs", min=0, help="Fine-tuning epochs in all.")] = 0,
    distill: Annotated[bool, typer.Option("--distill", help="Fine-tune against the unpruned model's outputs.")] = False,
    residual_width: Annotated[
        bool,
        typer.Option(
            "--residual-width",
            help="Attention models: also narrow the width every block shares (the same channels everywhere, "
            "as many from each head).",
        ),
    ] = False,
    lr: Annotated[
        float | None, typer.Option(min=0.0, help="Fine-tuning lr; default: 4x the model's from-scratch recipe.")
    ] = None,
    sweep: Annotated[
        str | None, typer.Option(help="Comma-separated levels: prune at each and plot accuracy against latency.")
    ] = None,
    sweep_by: Annotated[SweepBy, typer.Option("--sweep-by", help="What the sweep levels are.")] = "sparsity",
    weights: WeightsOpt = None,
    data: DataOpt = "shapes",
    device: DeviceOpt = "cpu",
    batch_sizes: BatchSizesOpt = "1,16",
    max_samples: MaxSamplesOpt = None,
    image_size: ImageSizeOpt = None,
    force: ForceOpt = False,
    auto: AutoOpt = False,
    resume: SearchResumeOpt = False,
    max_accuracy_drop: Annotated[
        float, typer.Option("--max-accuracy-drop", min=0.0, help="--auto: points of the primary metric to spend.")
    ] = 1.0,
    dump_recipe: DumpRecipeOpt = False,
) -> None:
    """Prune by magnitude, optionally fine-tune, and measure against the unpruned model in one run."""
    from compressor import api
    from compressor.recipe import Recipe, auto_prune_search
    from compressor.stages import PruneStage

    run = _run_spec(data, weights, image_size, device, batch_sizes, max_samples)
    options = {
        "structured": structured,
        "norm": norm,
        "global_ranking": global_ranking,
        "ignore": _names(ignore),
        "round_to": round_to,
        "steps": steps,
        "finetune_epochs": finetune_epochs,
        "distill": distill,
        "residual_width": residual_width,
        "lr": lr,
    }
    if auto:
        _refuse_alongside_auto(
            {"--sparsity": sparsity, "--threshold": threshold, "--pattern": pattern, "--sweep": sweep}
        )
        search = auto_prune_search(options, max_accuracy_drop)
        _dump_or_run(Recipe(model=model, search=search, **run), output, force, dump_recipe, resume)
        return
    stage = _stage(PruneStage, sparsity=sparsity, threshold=threshold, pattern=pattern, **options)
    if sweep is None:
        _dump_or_run_stage("prune", stage, model, run, output, force, dump_recipe)
        return
    if dump_recipe:
        raise OptionError("--sweep has no recipe form; a recipe `search:` with a prune grid does the same and more")
    report = api.prune(
        model,
        output,
        stage.request(),
        data=data,
        weights=weights,
        sweep=_float_list(sweep, "--sweep") if sweep else None,
        sweep_by=sweep_by,
        lr=lr,
        **_run_options(device, batch_sizes, max_samples, image_size, force),
    )
    _print_written(report, output)


@app.command("distill")
@user_errors
def distill_command(
    teacher: Annotated[
        str, typer.Option("--teacher", help="The trained model to learn from (zoo name, checkpoint...).")
    ],
    student: Annotated[str, typer.Option("--student", help="The model to train (zoo name or file.py:factory).")],
    output: OutDirOpt,
    data: DataOpt = "shapes",
    teacher_weights: Annotated[
        str | None, typer.Option("--teacher-weights", help="Teacher checkpoint; default: its reference weights.")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 5,
    temperature: Annotated[float, typer.Option(help="Softening of both models' class probabilities.")] = 4.0,
    alpha: Annotated[float, typer.Option(help="Weight of the teacher's term; 1 - alpha weighs the labels.")] = 0.7,
    feature_pairs: Annotated[
        list[str] | None,
        typer.Option(
            "--feature-pairs",
            help="teacher.layer:student.layer whose outputs the student also matches (MSE; repeatable).",
        ),
    ] = None,
    feature_weight: Annotated[float, typer.Option(help="Weight of each feature pair's MSE.")] = 1.0,
    compare_scratch: Annotated[
        bool, typer.Option("--compare-scratch", help="Also train the student without the teacher (same seed, budget).")
    ] = False,
    lr: Annotated[float | None, typer.Option(min=0.0, help="Default: the student's recipe.")] = None,
    seed: int = 0,
    resume: ResumeOpt = False,
    device: DeviceOpt = "cpu",
    batch_sizes: BatchSizesOpt = "1,16",
    max_samples: MaxSamplesOpt = None,
    image_size: ImageSizeOpt = None,
    force: ForceOpt = False,
    dump_recipe: DumpRecipeOpt = False,
) -> None:
    """Train a student against a teacher's outputs (Hinton KD) and measure both, and a scratch student, in one run."""
    from compressor import api
    from compressor.stages import DistillStage

    if dump_recipe:
        stage = _stage(
            DistillStage, teacher=teacher, teacher_weights=teacher_weights, epochs=epochs, temperature=temperature,
            alpha=alpha, feature_pairs=feature_pairs or [], feature_weight=feature_weight,
            compare_scratch=compare_scratch, lr=lr, seed=seed,
        )  # fmt: skip
        run = _run_spec(data, None, image_size, device, batch_sizes, max_samples)
        _dump_or_run_stage("distill", stage, student, run, output, force, dump_recipe)
        return
    report = api.distill(
        teacher,
        student,
        output,
        data=data,
        teacher_weights=teacher_weights,
        epochs=epochs,
        temperature=temperature,
        alpha=alpha,
        feature_pairs=feature_pairs,
        feature_weight=feature_weight,
        compare_scratch=compare_scratch,
        lr=lr,
        seed=seed,
        resume=resume,
        **_run_options(device, batch_sizes, max_samples, image_size, force),
    )
    if report is not None:  # None on the torchrun ranks other than 0, which only train
        _print_written(report, output)


@app.command("compare")
@user_errors
def compare_command(
    new: Annotated[Path, typer.Argument(metavar="NEW.json", help="The report of the change under test.")],
    baseline: Annotated[Path, typer.Option("--baseline", help="The report to hold it to (e.g. from main).")],
    max_accuracy_drop: Annotated[
        float,
        typer.Option(
            "--max-accuracy-drop",
            min=0.0,
            help="Percentage points of the primary metric a row may lose: metrics are fractions, so 0.5 allows "
            "0.971 -> 0.966.",
        ),
    ] = 1.0,
    max_latency_increase: Annotated[
        float,
        typer.Option(
            "--max-latency-increase",
            min=0.0,
            help="Percent a row's latency may grow, as its ratio to the same run's baseline row where both reports "
            "have one (head to head where both timed it so; that baseline row is then not latency-gated), else in ms.",
        ),
    ] = 10.0,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the comparison as JSON.")] = None,
) -> None:
    """CI gate: exit 0 when every row is within bounds, 1 with a table of what regressed, 2 for a bad file."""
    comparison = compare_files(new, baseline, max_accuracy_drop, max_latency_increase)
    if json_path is not None:
        write_text_atomic(json_path, json.dumps(comparison.as_dict(), indent=2) + "\n")
    stdout.print(comparison_markdown(comparison), highlight=False, markup=False, soft_wrap=True)
    if comparison.regressed:
        raise typer.Exit(1)


def _run_options(
    device: str, batch_sizes: str, max_samples: int | None, image_size: int | None, force: bool
) -> dict[str, Any]:
    """The measuring and OUTDIR options that quantize, prune and distill share, parsed for the library."""
    return {
        "device": device,
        "batch_sizes": _int_list(batch_sizes, "--batch-sizes"),
        "max_samples": max_samples,
        "image_size": _image_size(image_size),
        "force": force,
    }


def _print_written(report: Report, output: Path) -> None:
    stdout.print(to_markdown(report), highlight=False, markup=False, soft_wrap=True)
    stdout.print(f"wrote {output}/ (report.json, report.md and the models)", highlight=False)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _run_spec(
    data: str, weights: str | None, image_size: int | None, device: str, batch_sizes: str, max_samples: int | None
) -> dict[str, Any]:
    """The recipe's run options from the shared flags."""
    batches = _int_list(batch_sizes, "--batch-sizes")
    options = {"data": data, "weights": weights, "image_size": image_size, "device": device, "batch_sizes": batches}
    return {**options, "max_samples": max_samples}


def _stage(kind: type[StageT], **options: Any) -> StageT:
    try:
        return kind(**options)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise OptionError(f"--{where.replace('_', '-')}: {first['msg']}, not {first.get('input')!r}") from None


def _dump_or_run_stage(
    kind: str, stage: Stage, model: str, run: dict[str, Any], output: Path, force: bool, dump: bool
) -> None:
    """One verb, one stage: print it as a recipe, or run it here and print the report."""
    from compressor.recipe import Recipe, StageEntry

    try:
        recipe = Recipe(model=model, stages=[StageEntry(**{kind: stage})], **run)
    except ValidationError as error:
        raise OptionError(" ".join(error.errors()[0]["msg"].split())) from None
    if dump:
        stdout.print(recipe.dump(), end="", highlight=False, markup=False, soft_wrap=True)
        return
    with removed_on_failure(output):
        result = stage.run(model, recipe.weights, recipe, output, force)
    assert result.report is not None
    _print_written(result.report, output)


def _dump_or_run(recipe: Recipe, output: Path, force: bool, dump: bool, resume: bool = False) -> None:
    """A whole recipe (or an --auto search): print it, or run it into OUTDIR."""
    from compressor.pipeline import run_recipe

    if dump:
        stdout.print(recipe.dump(), end="", highlight=False, markup=False, soft_wrap=True)
        return
    with removed_on_failure(output):
        summary = run_recipe(recipe, output, force=force, resume=resume)
    if summary is not None:
        stdout.print(to_markdown(summary), highlight=False, markup=False, soft_wrap=True)
    search = getattr(summary, "search", None) if summary is not None else None
    if search is not None:
        best = search["best"]
        stdout.print(f"search: best {best} (copied to {output}/best/)" if best else "search: nothing within budget")
    stdout.print(f"wrote {output}/ (pipeline.json, report.json, report.md and each stage's folder)", highlight=False)


@app.command("run")
@user_errors
def run_command(
    recipe_path: Annotated[Path, typer.Argument(metavar="RECIPE", help="A recipe YAML file (see recipes/).")],
    output: OutDirOpt,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="KEY=VALUE over the recipe, e.g. stages.0.quantize.calibration=entropy."),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Run the recipe on this model instead.")] = None,
    data: Annotated[str | None, typer.Option(help="Run the recipe on this dataset instead.")] = None,
    max_samples: MaxSamplesOpt = None,
    force: ForceOpt = False,
    resume: SearchResumeOpt = False,
    dump_recipe: DumpRecipeOpt = False,
) -> None:
    """Run a recipe: its stages in order (each model in, model out), then its search, into OUTDIR."""
    from compressor.recipe import load_recipe

    given = {"model": model, "data": data, "max_samples": max_samples}
    sets = [f"{key}={value}" for key, value in given.items() if value is not None] + list(overrides or [])
    _dump_or_run(load_recipe(recipe_path, sets), output, force, dump_recipe, resume)


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
