"""How often the int8 speed tuner adopts noise: trials between two copies of one int8 file (A/A).

    python benchmarks/tuner_noise.py                           # mobilenet_v2 and densenet121, 10 trials each
    python benchmarks/tuner_noise.py --models resnet18 --trials 20

Each model is quantized once (reference weights, shapes 64x64, no tuning); the file and a byte-for-byte
copy then go through the tuner's own trial (`trial_timing`: 3 alternating rounds, 6 more when the
copy looks no slower) again and again. Any trial it adopts is noise. The table counts adoptions
under the rule the tuner uses (median at least MIN_GAIN and faster in MIN_FASTER_SHARE of the rounds)
and under the median alone (the rule before), from the same trials.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from results_io import RESULTS_DIR, table, write_results

from compressor import commands
from compressor.core.environment import collect_environment
from compressor.methods import speed_tune
from compressor.methods.quantize import Int8Request
from compressor.models.onnx_file import read_onnx_handle
from compressor.tasks import get_task


def aa_trials(model: str, trials: int, work: Path) -> list[speed_tune.TrialTiming]:
    """`trials` tuner trials between a model's int8 file and its copy, at the tuner's batch sizes."""
    request = Int8Request(tune_speed=False)
    report = commands.quantize(model, work / model, "int8", int8=request, batch_sizes=[1], max_samples=32)
    original = work / model / "model.int8.onnx"
    copy = work / model / "copy.int8.onnx"
    shutil.copyfile(original, copy)
    spec = read_onnx_handle(original).input_spec
    batches = [get_task(report.task).example_inputs(spec, size) for size in request.batch_sizes]
    timings = []
    for index in range(trials):
        timing = speed_tune.trial_timing(original, copy, batches)
        timings.append(timing)
        print(f"{model} trial {index + 1}: {timing.speedup:.2f}x, {timing.faster_rounds}/{len(timing.ratios)} faster")
    return timings


def row(model: str, timings: list[speed_tune.TrialTiming]) -> str:
    speedups = sorted(timing.speedup for timing in timings)
    by_median = sum(timing.speedup >= speed_tune.MIN_GAIN for timing in timings)
    by_rule = sum(timing.clear_gain for timing in timings)
    cells = [model, str(len(timings)), f"{speedups[0]:.2f}-{speedups[-1]:.2f}x", str(by_median), str(by_rule)]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mobilenet_v2", "densenet121"])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    rows, records = [], {}
    with tempfile.TemporaryDirectory(prefix="compressor-bench-noise-") as scratch:
        for model in args.models:
            timings = aa_trials(model, args.trials, Path(scratch))
            rows.append(row(model, timings))
            records[model] = [timing.ratios for timing in timings]
    env = collect_environment()
    header = (
        f"| model | A/A trials | trial medians | adopted by median >= {speed_tune.MIN_GAIN} | adopted by the tuner's "
        "rule |"
    )
    note = (
        f"Measured on {env['cpu']} ({env['cpu_count']} cores), onnxruntime {env['onnxruntime']}: two copies of "
        "one int8 file (reference weights, shapes 64x64) in the tuner's trials, batch sizes 1 and 16. The rule: "
        f"median >= {speed_tune.MIN_GAIN} and faster in {speed_tune.MIN_FASTER_SHARE:.0%} of the rounds."
    )
    write_results(args.out, "tuner-noise", table(header, rows, note), records)


if __name__ == "__main__":
    main()
