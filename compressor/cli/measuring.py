"""`compress models`, `train`, `export`, `bench` and `compare`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from compressor.cli.app import stdout, user_errors
from compressor.cli.options import (
    Calibration,
    DataOpt,
    DeviceOpt,
    DumpRecipeOpt,
    ExportFormat,
    FitOpt,
    ImageSizeOpt,
    MaxSamplesOpt,
    ModelArg,
    ResumeOpt,
    WeightsOpt,
    image_size_pair,
    int_list,
    path_not_flag,
    writable_path,
)
from compressor.cli.recipes import dump_or_run_stage, run_spec, stage_from
from compressor.core.errors import OptionError
from compressor.core.files import removed_on_failure, write_text_atomic
from compressor.report.compare import compare_files
from compressor.report.compare import to_markdown as comparison_markdown
from compressor.report.files import write_report
from compressor.report.schema import to_markdown


@user_errors
def models_command() -> None:
    """List the reference zoo: task, native input size and source of each model."""
    from compressor.models.catalog import list_entries  # not the api: no onnx or torchvision to import
    from compressor.models.pretrained import published_weights

    table = Table(
        "model",
        "task",
        "native input",
        "source",
        "--weights",
        "description",
        # "native", not "default": on the default data `bench mobilenet_v2` runs at 64x64
        caption="Native: the size the architecture was designed for. Commands run a model at its data's "
        "size (shapes: 64x64) unless --image-size. --weights: besides the reference checkpoint (default), "
        "random or a file, torchvision's published weights where they exist.",
    )
    for column in table.columns[:5]:
        column.no_wrap = True
    for entry in list_entries():
        published = published_weights(entry.name) or "-"
        size = "x".join(map(str, entry.input_size))
        table.add_row(entry.name, entry.task, size, entry.source, published, entry.description)
    stdout.print(table)


@user_errors
def train_command(
    model: ModelArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", callback=path_not_flag, help="Checkpoint to write (.pt or .safetensors).")
    ],
    data: DataOpt = "shapes",
    epochs: Annotated[int, typer.Option(min=1)] = 5,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Default: 32, or 8 for detectors.")] = None,
    lr: Annotated[float | None, typer.Option(min=0.0, help="Default: the model's recipe (2e-3 for most).")] = None,
    seed: int = 0,
    image_size: ImageSizeOpt = None,
    fit: FitOpt = None,
    device: DeviceOpt = "cpu",
    resume: ResumeOpt = False,
    force: Annotated[bool, typer.Option("--force", help="Train over an existing checkpoint at --output.")] = False,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            help="'imagenet' or 'coco': fine-tune a torchvision classifier or detector from its published weights.",
        ),
    ] = None,
) -> None:
    """Train a model on a dataset, from scratch or from torchvision's ImageNet weights, and save a
    self-describing checkpoint (under torchrun: DDP)."""
    from compressor import commands

    config = commands.train_config(model, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device)
    size = image_size_pair(image_size)
    commands.train(
        model, output, data=data, epochs=epochs, image_size=size, fit=fit, config=config, resume=resume, force=force,
        weights=weights,
    )  # fmt: skip


@user_errors
def export_command(
    model: ModelArg,
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            callback=path_not_flag,
            help="File to write (onnx; openvino: the .xml; tensorrt) or bundle directory (jetson).",
        ),
    ],
    format: Annotated[
        ExportFormat, typer.Option("--format", help="onnx, openvino (IR .xml), tensorrt or jetson.")
    ] = "onnx",
    precision: Annotated[
        str | None,
        typer.Option(help="tensorrt: fp32, fp16 or int8 (default fp32); jetson: int8 or fp16 (default int8)."),
    ] = None,
    weights: WeightsOpt = None,
    data: DataOpt = "shapes",
    opset: Annotated[int | None, typer.Option(min=17, help="ONNX opset (default 18; jetson: 17).")] = None,
    image_size: ImageSizeOpt = None,
    fit: FitOpt = None,
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
    raw_pixels: Annotated[
        bool,
        typer.Option(
            "--raw-pixels",
            help="Image classifiers: the model takes pixel values 0-255 and normalises them inside "
            "(the device only resizes and crops).",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the file (or bundle) -o names.")] = False,
    dump_recipe: DumpRecipeOpt = False,
) -> None:
    """Export to ONNX (dynamic batch; parity-tested against torch), OpenVINO IR, a TensorRT engine, or a Jetson
    bundle."""
    from compressor import commands
    from compressor.exporters.configs import Jetson, OpenVino, TensorRT
    from compressor.pipeline.stages import ExportStage
    from compressor.tasks import get_task

    stage = stage_from(
        ExportStage, format=format, precision=precision, opset=opset, jetpack=jetpack, batch_size=batch_size,
        max_batch=max_batch, calibration=calibration, calib_samples=calib_samples, raw_pixels=raw_pixels,
    )  # fmt: skip
    if dump_recipe:
        run = run_spec(data, weights, image_size, "cpu", "1,16", max_samples, fit)
        dump_or_run_stage("export", stage, model, run, output, force, dump_recipe)
        return
    target = stage.target()
    size = image_size_pair(image_size)
    if isinstance(target, TensorRT):
        target = target.model_copy(update={"timing_cache": str(timing_cache) if timing_cache else None})
        record = commands.export_tensorrt(
            model, output, target, data=data, weights=weights, image_size=size, fit=fit, force=force
        )
        stdout.print(f"wrote {output} ({record.precision}, TensorRT {record.tensorrt_version}, {record.gpu})")
        return
    if isinstance(target, Jetson):
        target = target.model_copy(update={"max_samples": max_samples})
        with removed_on_failure(output):
            manifest = commands.export_jetson(
                model, output, target, data=data, weights=weights, image_size=size, fit=fit, force=force
            )
        accuracy = manifest.expected_accuracy
        stdout.print(
            f"wrote {output}/ (model.onnx {manifest.precision}, static {manifest.inputs[0].shape}, JetPack "
            f"{manifest.jetpack}/TensorRT {manifest.tensorrt}); {accuracy.metric} {accuracy.bundle:.4f} on "
            f"onnxruntime here, fp32 {accuracy.fp32:.4f}"
        )
        return
    if precision not in (None, "fp32"):
        raise OptionError(
            f"--format {format} writes the model as it is; quantize it with `compress quantize` (then export the "
            "quantized .onnx file)"
        )
    if isinstance(target, OpenVino):
        handle, parity = commands.export_openvino(
            model, output, target, data=data, weights=weights, image_size=size, fit=fit, force=force
        )
        stdout.print(f"wrote {output} and {output.with_suffix('.bin').name} (input {list(handle.input_spec.shape)})")
        if handle.metadata.get("precision") == "int8":  # two int8 kernels round apart: agreement is the figure
            verdict = Text("int8 on both sides: OpenVINO's and onnxruntime's kernels round differently")
        else:
            verdict = Text("ok") if parity.within_tolerance else Text("above 1e-4", style="yellow")
        stdout.print(Text.assemble(f"parity on openvino vs its source: {parity.summary()} (", verdict, ")"))
        return
    handle, parity = commands.export(
        model,
        output,
        target,
        data=data,
        weights=weights,
        image_size=size,
        fit=fit,
        force=force,  # type: ignore[arg-type]
    )
    verdict = Text("ok") if parity.within_tolerance else Text("above 1e-4", style="yellow")
    axes = sorted(
        {name for per_tensor in get_task(handle.task).dynamic_axes().values() for name in per_tensor.values()}
    )
    shapes = f"dynamic {', '.join(axes)}" if axes else "static shapes"
    stdout.print(f"wrote {output} (input {list(handle.input_spec.shape)}, {shapes})")
    stdout.print(Text.assemble(f"parity vs torch: {parity.summary()} (", verdict, ")"))


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
    json_path: Annotated[
        Path | None,
        typer.Option("--json", dir_okay=False, callback=writable_path, help="Write the report here (report contract)."),
    ] = None,
    markdown_path: Annotated[
        Path | None,
        typer.Option("--markdown", dir_okay=False, callback=writable_path, help="Also write the Markdown table."),
    ] = None,
    image_size: ImageSizeOpt = None,
    fit: FitOpt = None,
    profile: Annotated[
        bool, typer.Option("--profile", help="Also onnxruntime's kernel time by op type (its profiler, CPU).")
    ] = False,
    dump_recipe: DumpRecipeOpt = False,
) -> None:
    """Measure accuracy, latency (p50/p90/p99), FPS, memory, size, params and MACs per backend."""
    from compressor import commands
    from compressor.pipeline.stages import BenchStage
    from compressor.runtime import parse_backends

    if dump_recipe:
        run = run_spec(data, weights, image_size, device, batch_sizes, max_samples, fit)
        stage = stage_from(BenchStage, backends=parse_backends(backend), profile=profile)
        dump_or_run_stage("bench", stage, model, run, Path("."), False, dump_recipe)
        return
    report = commands.bench(
        model,
        data=data,
        weights=weights,
        backends=parse_backends(backend),
        device=device,
        batch_sizes=int_list(batch_sizes, "--batch-sizes"),
        max_samples=max_samples,
        image_size=image_size_pair(image_size),
        fit=fit,
        profile=profile,
    )
    if json_path is not None:
        write_report(report, json_path, markdown_path)
    stdout.print(to_markdown(report), soft_wrap=True)


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
    json_path: Annotated[
        Path | None, typer.Option("--json", callback=writable_path, help="Also write the comparison as JSON.")
    ] = None,
) -> None:
    """CI gate: exit 0 when every row is within bounds, 1 with a table of what regressed, 2 for a bad file."""
    comparison = compare_files(new, baseline, max_accuracy_drop, max_latency_increase)
    if json_path is not None:
        write_text_atomic(json_path, json.dumps(comparison.as_dict(), indent=2) + "\n")
    stdout.print(comparison_markdown(comparison), soft_wrap=True)
    if comparison.regressed:
        raise typer.Exit(1)
