"""int8 on onnxruntime CPU: ours against the peers, on the same fp32 ONNX file, measured in one run.

    python benchmarks/quantize.py                                   # mobilenet_v2, reference weights, 64x64
    python benchmarks/quantize.py --models mobilenet_v2 resnet18 densenet121 --weights random --image-size 224

Per model: export the fp32 baseline once; quantize it (1) with `compress quantize`'s int8, (2) with
onnxruntime's `quantize_static` defaults, (3) with onnxruntime's best hand-set configuration for x86
(pre-processed, QDQ, per-channel int8 weights, uint8 activations) and (4) with NNCF's default PTQ when
nncf is installed; then time all of them side by side in one `measure_variants` call, batch 1 and 16.
Speed is reported as ratios to the fp32 row of the same run (this machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from results_io import RESULTS_DIR, write_results

from compressor import commands
from compressor.core.environment import collect_environment
from compressor.core.errors import brief
from compressor.core.handle import ModelHandle
from compressor.data import calibration_split, load_dataset
from compressor.measurement.variants import Variant, measure_variants
from compressor.methods.calibration import DatasetCalibrationReader
from compressor.methods.quantize import Int8Request, quantize_onnx_int8, stamp
from compressor.methods.speed_tune import relative_speed, same_nodes
from compressor.models.onnx_file import read_onnx_handle
from compressor.report.schema import ResultRow
from compressor.tasks import get_task

CALIBRATION_SAMPLES = 256
HEAD_TO_HEAD_ROUNDS = 5


def _reader(baseline: ModelHandle, data: str) -> DatasetCalibrationReader:
    task = get_task(baseline.task)
    subset = calibration_split(load_dataset(data), baseline.input_spec, CALIBRATION_SAMPLES)
    return DatasetCalibrationReader(subset, task, baseline.input_spec, list(task.input_names))


def ort_defaults(baseline: ModelHandle, data: str, target: Path) -> None:
    quantize_static(str(baseline.onnx_path), str(target), _reader(baseline, data))


def ort_hand_set(baseline: ModelHandle, data: str, target: Path, scratch: Path) -> None:
    preprocessed = scratch / "hand-set-pre.onnx"
    quant_pre_process(str(baseline.onnx_path), str(preprocessed))
    quantize_static(
        str(preprocessed),
        str(target),
        _reader(baseline, data),
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )


def nncf_default(baseline: ModelHandle, data: str, target: Path) -> bool:
    """NNCF's default PTQ on the ONNX file; False when nncf is not installed."""
    try:
        import nncf
        import onnx
    except ImportError:
        return False
    # Batches of 16 as items (256 samples): fed one sample per item, NNCF 3.4 writes per-channel
    # activation zero points that onnxruntime's QLinearConv rejects.
    feeds = list(iter(_reader(baseline, data).get_next, None))
    quantized = nncf.quantize(onnx.load(str(baseline.onnx_path)), nncf.Dataset(feeds))
    onnx.save(quantized, str(target))
    return True


def _fails_to_run(path: Path, baseline: ModelHandle) -> str | None:
    """A peer's model that onnxruntime cannot run is reported as such, not allowed to stop the benchmark."""
    task = get_task(baseline.task)
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        inputs = task.example_inputs(baseline.input_spec, 2)
        session.run(None, {name: t.numpy() for name, t in zip(task.input_names, inputs, strict=True)})
    except Exception as error:  # noqa: BLE001  (onnxruntime raises its own exception types)
        return brief(error, 120)
    return None


def _ratio_cells(rows: list[ResultRow], variant: str, reference: str) -> list[str]:
    cells = []
    for batch in (1, 16):
        row = next(r for r in rows if r.variant == variant and r.batch_size == batch)
        ref = next(r for r in rows if r.variant == reference and r.batch_size == batch)
        cells.append(f"{ref.latency_ms.p50 / row.latency_ms.p50:.2f}x")
    return cells


def _head_to_head(ours: Path, other: Path, baseline: ModelHandle) -> list[str]:
    """Ours against one other file, timed in alternating rounds (median of 5) at batch 1 and 16."""
    task = get_task(baseline.task)
    return [
        f"{relative_speed(other, ours, [task.example_inputs(baseline.input_spec, batch)], HEAD_TO_HEAD_ROUNDS):.2f}x"
        for batch in (1, 16)
    ]


def bench_model(model: str, args: argparse.Namespace, scratch: Path) -> tuple[list[str], dict]:
    size = (args.image_size, args.image_size) if args.image_size else None
    weights = "random" if args.weights == "random" else None
    baseline_path = scratch / f"{model}-fp32.onnx"
    handle, _ = commands.export(model, baseline_path, data=args.data, weights=weights, image_size=size)
    baseline = read_onnx_handle(baseline_path)
    files: dict[str, Path] = {}
    ours = quantize_onnx_int8(baseline, load_dataset(args.data), Int8Request(), scratch / f"{model}-ours.onnx", scratch)
    files["compressor int8"] = ours.handle.onnx_path  # type: ignore[assignment]
    ort_defaults(baseline, args.data, scratch / f"{model}-ort-defaults.onnx")
    files["onnxruntime defaults"] = scratch / f"{model}-ort-defaults.onnx"
    ort_hand_set(baseline, args.data, scratch / f"{model}-ort-hand-set.onnx", scratch)
    files["onnxruntime hand-set"] = scratch / f"{model}-ort-hand-set.onnx"
    if nncf_default(baseline, args.data, scratch / f"{model}-nncf.onnx"):
        files["nncf defaults"] = scratch / f"{model}-nncf.onnx"
    variants = [Variant("fp32", "fp32", {"onnxruntime": baseline})]
    failed = {name: error for name, path in files.items() if (error := _fails_to_run(path, baseline))}
    ours_path = files["compressor int8"]
    twins = [name for name, path in files.items() if path != ours_path and same_nodes(ours_path, path)]
    for name, path in files.items():
        if name in failed:
            continue
        stamped = path if name == "compressor int8" else stamp(path, path, baseline, {"precision": "int8"}).onnx_path
        variants.append(Variant(name, "int8", {"onnxruntime": read_onnx_handle(stamped)}))  # type: ignore[arg-type]
    rows, samples = measure_variants(
        variants, load_dataset(args.data), ["onnxruntime"], "cpu", [1, 16], max_samples=args.max_samples
    )
    metric = get_task(handle.task).primary_metric
    lines = []
    for variant in variants:
        row = next(r for r in rows if r.variant == variant.name and r.batch_size == 1)
        accuracy = "- (random weights)" if args.weights == "random" else f"{row.metrics[metric]:.4f}"
        label = f"{variant.name} (same nodes as ours)" if variant.name in twins else variant.name
        cells = [Path(model).name, label, accuracy, f"{row.size_mb:.2f}"]
        path = variant.artifacts["onnxruntime"].onnx_path
        versus = _head_to_head(ours_path, path, baseline) if variant.name != "compressor int8" else []
        cells += _ratio_cells(rows, variant.name, "fp32") + (versus or ["1.00x", "1.00x"])
        lines.append("| " + " | ".join(cells) + " |")
    for name, error in failed.items():
        lines.append(f"| {model} | {name} | failed under onnxruntime: {error} | | | | | |")
    record = {
        "model": model,
        "input_shape": list(baseline.input_spec.shape),
        "samples": samples,
        "rows": [r.model_dump(mode="json") for r in rows],
        "failed": failed,
        "same_nodes_as_ours": twins,
    }
    return lines, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mobilenet_v2"])
    parser.add_argument("--weights", choices=["random", "reference"], default="reference")
    parser.add_argument("--data", default="shapes")
    parser.add_argument("--image-size", type=int, default=None, help="Default: the data's own (shapes: 64).")
    parser.add_argument("--max-samples", type=int, default=None, help="Val samples scored (random weights: 64).")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    if args.weights == "random" and args.max_samples is None:
        args.max_samples = 64  # speed only: accuracy of random weights means nothing

    header = (
        "| model | int8 by | top1 | ONNX MB | speed vs fp32 bs1 | speed vs fp32 bs16 | "
        "compressor int8 vs this bs1 (head to head) | compressor int8 vs this bs16 (head to head) |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    records = []
    with tempfile.TemporaryDirectory(prefix="compressor-bench-quantize-") as scratch:
        for model in args.models:
            model_lines, record = bench_model(model, args, Path(scratch))
            lines += model_lines
            records.append(record)
            print("\n".join(model_lines), flush=True)
    env = collect_environment()
    size = "x".join(str(d) for d in records[0]["input_shape"][-2:])
    lines += [
        "",
        f"Measured on {env['cpu']} ({env['cpu_count']} cores), onnxruntime {env['onnxruntime']}, CPU provider; "
        f"{args.data} val, {size} input, {args.weights} weights. Ratios are p50 latency ratios of rows "
        "timed in the same run; head to head: the two files timed in 5 alternating rounds, median."
        + ("" if any("nncf" in line for line in lines) else " NNCF not installed."),
    ]
    name = f"quantize-{Path(args.data).name}-{args.weights}-{size}"
    write_results(args.out, name, lines, records)


if __name__ == "__main__":
    main()
