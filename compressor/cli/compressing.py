"""`compress quantize`, `prune` and `distill`: each a stage of a recipe, run or printed."""

from __future__ import annotations

from typing import Annotated

import typer

from compressor.cli.app import user_errors
from compressor.cli.options import (
    AutoOpt,
    BatchSizesOpt,
    Calibration,
    DataOpt,
    DeviceOpt,
    DumpRecipeOpt,
    FitOpt,
    ForceOpt,
    ImageSizeOpt,
    Int8Method,
    MaxMinutesOpt,
    MaxSamplesOpt,
    MeasureBackendsOpt,
    ModelArg,
    Norm,
    OutDirOpt,
    ResumeOpt,
    SearchResumeOpt,
    SweepBy,
    WeightsOpt,
    float_list,
    names_list,
)
from compressor.cli.recipes import (
    auto_time_limit,
    dump_or_run,
    dump_or_run_stage,
    print_written,
    refuse_alongside_auto,
    run_options,
    run_spec,
    stage_from,
)
from compressor.core.errors import OptionError
from compressor.core.files import removed_on_failure


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
    backend: MeasureBackendsOpt = None,
    device: DeviceOpt = "cpu",
    batch_sizes: BatchSizesOpt = "1,16",
    max_samples: MaxSamplesOpt = None,
    image_size: ImageSizeOpt = None,
    fit: FitOpt = None,
    force: ForceOpt = False,
    auto: AutoOpt = False,
    max_minutes: MaxMinutesOpt = None,
    resume: SearchResumeOpt = False,
    dump_recipe: DumpRecipeOpt = False,
) -> None:
    """Quantize to int8, fp16 or bf16 and measure it against the fp32 baseline, side by side, in one run."""
    from compressor.methods.configs import Quantize
    from compressor.pipeline.recipe import Recipe, auto_quantize_search

    run = run_spec(data, weights, image_size, device, batch_sizes, max_samples, fit)
    max_minutes = auto_time_limit(auto, max_minutes)
    options = {
        "method": method,
        "calib_samples": calib_samples,
        "tune_speed": tune_speed,
        "exclude": tuple(names_list(exclude)),
    }
    if auto:
        refuse_alongside_auto({"--precision": precision, "--backend": backend})
        search = auto_quantize_search(options, max_accuracy_drop, max_minutes)
        dump_or_run(Recipe(model=model, search=search, **run), output, force, dump_recipe, resume)
        return
    if precision is None:
        raise OptionError("give --precision int8|fp16|bf16, or --auto to try each within --max-accuracy-drop")
    stage = stage_from(
        Quantize, precision=precision, calibration=calibration, max_accuracy_drop=max_accuracy_drop,
        backends=measured_backends(backend), **options,
    )  # fmt: skip
    dump_or_run_stage("quantize", stage, model, run, output, force, dump_recipe)


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
    whole_heads: Annotated[
        bool,
        typer.Option(
            "--whole-heads",
            help="Hugging Face attention (BERT, DistilBERT, ViT, ...), or torch's nn.MultiheadAttention with "
            "--residual-width: remove whole heads (the head size stays) instead of the same channels from every head.",
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
    backend: MeasureBackendsOpt = None,
    device: DeviceOpt = "cpu",
    batch_sizes: BatchSizesOpt = "1,16",
    max_samples: MaxSamplesOpt = None,
    image_size: ImageSizeOpt = None,
    fit: FitOpt = None,
    force: ForceOpt = False,
    auto: AutoOpt = False,
    max_minutes: MaxMinutesOpt = None,
    resume: SearchResumeOpt = False,
    max_accuracy_drop: Annotated[
        float, typer.Option("--max-accuracy-drop", min=0.0, help="--auto: points of the primary metric to spend.")
    ] = 1.0,
    dump_recipe: DumpRecipeOpt = False,
) -> None:
    """Prune by magnitude, optionally fine-tune, and measure against the unpruned model in one run."""
    from compressor import commands
    from compressor.methods.configs import Prune
    from compressor.pipeline.recipe import Recipe, auto_prune_search

    run = run_spec(data, weights, image_size, device, batch_sizes, max_samples, fit)
    max_minutes = auto_time_limit(auto, max_minutes)
    options = {
        "structured": structured,
        "norm": norm,
        "global_ranking": global_ranking,
        "ignore": tuple(names_list(ignore)),
        "round_to": round_to,
        "steps": steps,
        "finetune_epochs": finetune_epochs,
        "distill": distill,
        "residual_width": residual_width,
        "whole_heads": whole_heads,
        "lr": lr,
    }
    if auto:
        refuse_alongside_auto(
            {
                "--sparsity": sparsity,
                "--threshold": threshold,
                "--pattern": pattern,
                "--sweep": sweep,
                "--backend": backend,
            }
        )
        search = auto_prune_search(options, max_accuracy_drop, max_minutes)
        dump_or_run(Recipe(model=model, search=search, **run), output, force, dump_recipe, resume)
        return
    stage = stage_from(
        Prune, sparsity=sparsity, threshold=threshold, pattern=pattern, backends=measured_backends(backend),
        **options,
    )  # fmt: skip
    if sweep is None:
        dump_or_run_stage("prune", stage, model, run, output, force, dump_recipe)
        return
    if dump_recipe:
        raise OptionError("--sweep has no recipe form; a recipe `search:` with a prune grid does the same and more")
    report = commands.prune(
        model,
        output,
        stage,
        data=data,
        weights=weights,
        sweep=float_list(sweep, "--sweep") if sweep else None,
        sweep_by=sweep_by,
        lr=lr,
        **run_options(device, batch_sizes, max_samples, image_size, force, fit),
    )
    print_written(report, output)


@user_errors
def distill_command(
    teacher: Annotated[
        str, typer.Option("--teacher", help="The trained model to learn from (zoo name, checkpoint...).")
    ],
    student: Annotated[
        str, typer.Option("--student", help="The model to train (zoo name or file.py:factory; or a checkpoint).")
    ],
    output: OutDirOpt,
    data: DataOpt = "shapes",
    teacher_weights: Annotated[
        str | None,
        typer.Option("--teacher-weights", help="Teacher checkpoint or 'imagenet'; default: its reference weights."),
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
    backend: MeasureBackendsOpt = None,
    device: DeviceOpt = "cpu",
    batch_sizes: BatchSizesOpt = "1,16",
    max_samples: MaxSamplesOpt = None,
    image_size: ImageSizeOpt = None,
    fit: FitOpt = None,
    force: ForceOpt = False,
    dump_recipe: DumpRecipeOpt = False,
    student_weights: Annotated[
        str | None,
        typer.Option(
            "--student-weights", help="A zoo student's start: 'imagenet', 'coco' or a weights file; default random."
        ),
    ] = None,
) -> None:
    """Train a student against a teacher's outputs (Hinton KD) and measure both, and a scratch student, in one run."""
    from compressor import commands
    from compressor.methods.configs import Distill

    if temperature <= 0 or not 0.0 <= alpha <= 1.0 or feature_weight < 0:
        raise OptionError(
            f"--temperature must be > 0, --alpha in [0, 1] and --feature-weight >= 0; got {temperature}, {alpha} "
            f"and {feature_weight}"
        )
    config = stage_from(
        Distill, teacher=teacher, teacher_weights=teacher_weights, epochs=epochs, temperature=temperature,
        alpha=alpha, feature_pairs=feature_pairs or [], feature_weight=feature_weight,
        compare_scratch=compare_scratch, lr=lr, seed=seed, backends=measured_backends(backend),
    )  # fmt: skip
    if dump_recipe:
        run = run_spec(data, student_weights, image_size, device, batch_sizes, max_samples, fit)
        dump_or_run_stage("distill", config, student, run, output, force, dump_recipe)
        return
    with removed_on_failure(output):
        report = commands.distill(
            student, output, config, data=data, resume=resume, student_weights=student_weights,
            **run_options(device, batch_sizes, max_samples, image_size, force, fit),
        )  # fmt: skip
    if report is not None:  # None on the torchrun ranks other than 0, which only train
        print_written(report, output)


def measured_backends(backend: str | None) -> list[str] | None:
    """--backend's names, each a registered backend; None (the verb's default) when not given."""
    from compressor.runtime import parse_backends  # the registry imports torch: not for --help

    return parse_backends(backend) if backend is not None else None
