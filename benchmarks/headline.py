"""The front page's one results table: int8 and pruning of the reference checkpoints, side by side.

    python benchmarks/headline.py

No new measurement: it reads what `benchmarks/quantize.py --models mobilenet_v2 densenet121` and
`benchmarks/prune.py` wrote (run those first) and puts their reference-checkpoint rows in one table:
accuracy before and after, the speed-up of the two ONNX files timed head to head on onnxruntime, and the
file sizes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from results_io import RESULTS_DIR, read_results, write_results

QUANTIZE = "quantize-shapes-reference-64x64"
PRUNE = "prune"
PRUNE_CASES = {  # case -> method, as the front page names it
    "mobilenet_v2-structured-50": "structured pruning, 50% of channels",
    "resnet18-structured-30": "structured pruning, 30% of channels",
    "densenet121-structured-30": "structured pruning, 30% of channels",
    "mobilenet_v2-unstructured-80": "unstructured pruning, 80% of weights",
}
HEADER = [
    "model", "method", "top1 fp32 → compressed", "speed-up bs1 (head to head)", "speed-up bs16 (head to head)",
    "ONNX MB fp32 → compressed",
]  # fmt: skip


def _required(out: Path, name: str) -> dict:
    results = read_results(out, name)
    if results is None:
        raise SystemExit(
            f"error: {out / name}.json is missing; run its benchmark first (python benchmarks/all.py --dry-run)"
        )
    return results


def quantize_rows(results: dict) -> list[list[str]]:
    table = results["table"]
    column = {name: index for index, name in enumerate(table["header"])}
    by_model: dict[str, dict[str, list[str]]] = {}
    for row in table["rows"]:
        by_model.setdefault(row[column["model"]], {})[row[column["int8 by"]]] = row
    lines = []
    for model, rows in by_model.items():
        fp32, ours = rows["fp32"], rows["compressor int8"]
        lines.append([
            model, "int8 (compress quantize)", f"{fp32[column['top1']]} → {ours[column['top1']]}",
            fp32[column["compressor int8 vs this bs1 (head to head)"]],
            fp32[column["compressor int8 vs this bs16 (head to head)"]],
            f"{fp32[column['ONNX MB']]} → {ours[column['ONNX MB']]}",
        ])  # fmt: skip
    return lines


def prune_rows(results: dict) -> list[list[str]]:
    table = results["table"]
    column = {name: index for index, name in enumerate(table["header"])}
    lines = []
    for row in table["rows"]:
        case = row[column["case"]]
        if case not in PRUNE_CASES:
            continue
        rows = results["records"][case]["report"]["results"]
        sizes = {r["variant"]: r["size_mb"] for r in rows if r["backend"] == "onnxruntime" and r["batch_size"] == 1}
        method = f"{PRUNE_CASES[case]}, {row[column['fine-tune epochs']]} fine-tuning epochs"
        size = f"{sizes['baseline']:.2f} → {sizes['pruned']:.2f}"
        speed = row[column["onnxruntime speed bs1 (head to head)"]]
        lines.append([case.split("-")[0], method, row[column["fp32 → pruned"]], speed, "-", size])
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    quantize, prune = _required(args.out, QUANTIZE), _required(args.out, PRUNE)
    rows = quantize_rows(quantize) + prune_rows(prune)
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    measured_on = quantize["note"].split(";")[0]
    lines += [
        "",
        f"{measured_on}; reference checkpoints trained on shapes, 64x64, scored on its val split. Speed-up: the "
        "compressed and fp32 ONNX files timed against each other on onnxruntime's CPU provider in 5 alternating "
        f"rounds, median. From `{quantize['command']}` and `{prune['command']}`.",
    ]
    write_results(args.out, "headline", lines, {"quantize": QUANTIZE, "prune": PRUNE, "rows": rows})


if __name__ == "__main__":
    main()
