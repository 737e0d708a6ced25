"""int8 and bf16 on OpenVINO beside onnxruntime, on the same fp32 ONNX file, timed in alternating rounds.

    python benchmarks/openvino_backend.py    # mobilenet_v2 resnet18 densenet121, random weights, 224x224

Per model: export the fp32 file once; make (1) `compress quantize`'s int8 for onnxruntime (tuned there),
(2) NNCF's default int8 IR of the fp32 file, (3) what `compress quantize --backend openvino` keeps for
OpenVINO (its Q/DQ file tuned on OpenVINO, or NNCF's IR where that is faster head to head). Then time,
at batch 1, in fresh runners each round and in a rotating order: onnxruntime fp32 and int8; OpenVINO in
float32, in bf16 (AMX), NNCF's int8, onnxruntime's int8 file as it is, and ours. Speed-ups are the
median over the rounds of onnxruntime fp32's time over each column's time in that round.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from results_io import RESULTS_DIR, write_results

from compressor import commands
from compressor.core.environment import collect_environment
from compressor.data import load_dataset
from compressor.measurement.timing import time_runner
from compressor.methods.openvino_int8 import nncf_int8
from compressor.methods.quantize import Int8Request
from compressor.models.onnx_file import read_onnx_handle
from compressor.runtime.base import Runner
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner
from compressor.runtime.openvino_runner import OpenVinoRunner, check_bf16
from compressor.tasks import get_task

ROUNDS = 5
TIMING_SECONDS = 1.0
COLUMNS = (
    "onnxruntime int8 (compressor, tuned on onnxruntime)",
    "OpenVINO fp32",
    "OpenVINO bf16",
    "OpenVINO int8 (NNCF defaults)",
    "OpenVINO running the onnxruntime int8 file",
    "OpenVINO int8 (compressor: kept for openvino)",
)


def _timed(open_runner: Callable[[], Runner], inputs: list) -> float:
    runner = open_runner()
    try:
        return time_runner(runner, inputs, TIMING_SECONDS).p50
    finally:
        runner.close()


def bench_model(model: str, args: argparse.Namespace, scratch: Path) -> tuple[list[str], dict]:
    size = (args.image_size, args.image_size)
    fp32 = scratch / f"{model}-fp32.onnx"
    commands.export(model, fp32, data=args.data, weights="random", image_size=size)
    baseline = read_onnx_handle(fp32)
    bundle = load_dataset(args.data)
    common = {
        "data": args.data,
        "weights": "random",
        "image_size": size,
        "batch_sizes": [1],
        "max_samples": args.max_samples,
    }
    commands.quantize(model, scratch / f"{model}-ort", "int8", backends=["onnxruntime"], **common)
    ov_report = commands.quantize(model, scratch / f"{model}-ov", "int8", backends=["openvino"], **common)
    nncf_file = nncf_int8(baseline, bundle, Int8Request().calib_samples, scratch / f"{model}-nncf.xml").onnx_path
    ours_for_ov = scratch / f"{model}-ov" / next(r.artifact for r in ov_report.results if r.variant == "int8")
    ort_int8 = scratch / f"{model}-ort" / "model.int8.onnx"
    opened: dict[str, Callable[[], Runner]] = {
        "onnxruntime fp32": lambda: OnnxRuntimeRunner(fp32),
        COLUMNS[0]: lambda: OnnxRuntimeRunner(ort_int8),
        COLUMNS[1]: lambda: OpenVinoRunner(fp32),
        COLUMNS[2]: lambda: OpenVinoRunner(fp32, precision="bf16"),
        COLUMNS[3]: lambda: OpenVinoRunner(nncf_file),
        COLUMNS[4]: lambda: OpenVinoRunner(ort_int8),
        COLUMNS[5]: lambda: OpenVinoRunner(ours_for_ov),
    }
    inputs = get_task(baseline.task).example_inputs(baseline.input_spec, 1)
    names = list(opened)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(ROUNDS):
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for name in order:
            times[name].append(_timed(opened[name], inputs))
    speedups = {
        name: statistics.median(ref / own for ref, own in zip(times["onnxruntime fp32"], times[name], strict=True))
        for name in names
    }
    versus_nncf = statistics.median(n / o for n, o in zip(times[COLUMNS[3]], times[COLUMNS[5]], strict=True))
    kept = ov_report.quantization["openvino"]["kept"]  # type: ignore[attr-defined]
    cells = [model, f"{statistics.median(times['onnxruntime fp32']):.2f}"]
    cells += [f"{speedups[name]:.2f}x" for name in COLUMNS] + [kept, f"{versus_nncf:.2f}x"]
    record = {
        "model": model,
        "input_shape": list(baseline.input_spec.shape),
        "p50_ms_per_round": times,
        "speedups": speedups,
        "ours_for_openvino_vs_nncf": versus_nncf,
        "openvino_choice": ov_report.quantization["openvino"],  # type: ignore[attr-defined]
    }
    return ["| " + " | ".join(cells) + " |"], record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mobilenet_v2", "resnet18", "densenet121"])
    parser.add_argument("--data", default="shapes")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--max-samples", type=int, default=64, help="Val samples scored (random weights).")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    check_bf16()  # the bf16 column needs AMX or AVX-512 BF16: refused in one line where the CPU lacks them
    header = ["model", "onnxruntime fp32 p50 ms", *COLUMNS, "kept for openvino", "ours vs NNCF (head to head)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    records = []
    with tempfile.TemporaryDirectory(prefix="compressor-bench-openvino-") as scratch:
        for model in args.models:
            model_lines, record = bench_model(model, args, Path(scratch))
            lines += model_lines
            records.append(record)
            print("\n".join(model_lines), flush=True)
    env = collect_environment()
    lines += [
        "",
        f"Measured on {env['cpu']} ({env['cpu_count']} cores), onnxruntime {env['onnxruntime']}, OpenVINO "
        f"{env.get('openvino')}; random weights, {args.image_size}x{args.image_size} input, batch 1. Speed-ups "
        f"over onnxruntime fp32: median of {ROUNDS} rounds, each timing every column in fresh runners in a "
        "rotating order. Last column: ours for OpenVINO over NNCF's, the same rounds.",
    ]
    write_results(
        args.out, f"openvino-{Path(args.data).name}-random-{args.image_size}x{args.image_size}", lines, records
    )


if __name__ == "__main__":
    main()
