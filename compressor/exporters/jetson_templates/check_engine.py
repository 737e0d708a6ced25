#!/usr/bin/env python3
"""Check model.engine on this board against what onnxruntime computed for model.onnx where the bundle
was made: trtexec runs the engine on the same input tensors (check/inputs/), and each sample's class
must be the one check/expected.json holds, every output finite. The samples are ones onnxruntime
classified with a clear margin, so a changed class means the engine computes something else.

Usage: python3 check_engine.py [trtexec options]   (after ./build_engine.sh; a DLA core it built for is used)
Exit status: 0 passed, 1 failed, 2 could not run. Python 3.8+, standard library only.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# trtexec writes C++'s nan/inf, which JSON lacks.
_NON_FINITE = re.compile(r"(?<=[\[,\s])-?(nan|inf)(?=[\],\s])", re.IGNORECASE)


def _trtexec() -> str:
    named = os.environ.get("TRTEXEC")
    if named:
        return named
    if os.access("/usr/src/tensorrt/bin/trtexec", os.X_OK):
        return "/usr/src/tensorrt/bin/trtexec"
    found = shutil.which("trtexec")
    if found is None:
        print("error: no trtexec; set TRTEXEC to its path (JetPack puts it in /usr/src/tensorrt/bin)")
        sys.exit(2)
    return found


def _json_value(match: re.Match) -> str:
    token = match.group(0).lower()
    return "NaN" if "nan" in token else ("-Infinity" if token.startswith("-") else "Infinity")


def _engine_outputs(trtexec: str, input_name: str, file: Path, extra: list, scratch: Path) -> dict:
    exported = scratch / (file.stem + ".json")
    quoted = f"'{input_name}'" if ":" in input_name else input_name
    command = [
        trtexec,
        "--loadEngine=model.engine",
        f"--loadInputs={quoted}:{file}",
        f"--exportOutput={exported}",
        "--iterations=1",
        "--warmUp=0",
        "--duration=0",
        *extra,
    ]
    try:
        result = subprocess.run(command, cwd=str(HERE), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as error:
        print(f"error: cannot run trtexec ({trtexec}): {error.strerror}")
        sys.exit(2)
    if result.returncode != 0 or not exported.is_file():
        print(result.stdout.decode(errors="replace")[-2000:])
        print(f"error: trtexec could not run model.engine on {file} (its log above)")
        sys.exit(2)
    entries = json.loads(_NON_FINITE.sub(_json_value, exported.read_text()))
    return {entry["name"]: [float(value) for value in entry["values"]] for entry in entries}


def _dla_options(extra: list) -> list:
    """--useDLACore for an engine build_engine.sh made for a DLA core (a loaded engine runs on core 0
    unless trtexec is told), unless the options given name one."""
    core = HERE / "model.engine.dla-core"
    if core.is_file() and not any(option.startswith("--useDLACore") for option in extra):
        return [f"--useDLACore={core.read_text().strip()}"]
    return []


def _top(values: list) -> int:
    return max(range(len(values)), key=values.__getitem__)


def _name(labels: list, index: int) -> str:
    return labels[index] if 0 <= index < len(labels) and labels[index] else f"class {index}"


def _compare_classes(got: dict, want: dict, check: dict, labels: list, where: str) -> tuple:
    """Each sample's top class must be onnxruntime's; returns (samples, failures, largest difference, range)."""
    output = check["outputs"][0]
    classes = output["shape"][-1]
    engine, onnx = got[output["name"]], want[output["name"]]
    failures = []
    for start in range(0, len(onnx), classes):
        engine_class, onnx_class = _top(engine[start : start + classes]), _top(onnx[start : start + classes])
        if engine_class != onnx_class:
            failures.append(
                f"{where} sample {start // classes}: the engine says {_name(labels, engine_class)}, "
                f"onnxruntime said {_name(labels, onnx_class)}"
            )
    largest = max(abs(a - b) for a, b in zip(engine, onnx))  # noqa: B905 (3.8: no strict=)
    return len(onnx) // classes, failures, largest, max(onnx) - min(onnx)


def _confident(values: dict, names: list, sample: int, samples: int, confidence: float) -> list:
    """(box, score, label) of one sample's detections scored at least `confidence`, best first."""
    boxes, scores, labels = (values[name] for name in names)
    count = len(scores) // samples
    found = []
    for index in range(sample * count, (sample + 1) * count):
        if scores[index] >= confidence:
            found.append((boxes[4 * index : 4 * index + 4], scores[index], int(labels[index])))
    return sorted(found, key=lambda detection: -detection[1])


def _iou(a: list, b: list) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - width * height
    return width * height / union if union > 0 else 0.0


def _compare_detections(got: dict, want: dict, check: dict, labels: list, where: str) -> tuple:
    """Each confident detection (same label, IoU at least match_iou) must be found by the other side;
    returns (samples, failures, largest box or score difference of matched pairs, image side)."""
    names = [output["name"] for output in check["outputs"][:3]]  # boxes, scores, labels
    samples, confidence = check["input"]["shape"][0], check["confidence"]
    failures, largest = [], 0.0
    for sample in range(samples):
        engine = _confident(got, names, sample, samples, confidence)
        onnx = _confident(want, names, sample, samples, confidence)
        free = list(range(len(engine)))
        for box, score, label in onnx:
            twins = [i for i in free if engine[i][2] == label and _iou(engine[i][0], box) >= check["match_iou"]]
            if not twins:
                failures.append(f"{where} sample {sample}: the engine misses a {_name(labels, label)} ({score:.2f})")
                continue
            twin = max(twins, key=lambda i: _iou(engine[i][0], box))
            free.remove(twin)
            differences = [abs(a - b) for a, b in zip(engine[twin][0], box)]  # noqa: B905 (3.8: no strict=)
            largest = max(largest, *differences, abs(engine[twin][1] - score))
        for i in free:
            failures.append(
                f"{where} sample {sample}: the engine adds a {_name(labels, engine[i][2])} ({engine[i][1]:.2f})"
            )
    return samples, failures, largest, float(max(check["input"]["shape"][-2:]))


# task: (comparison, what must agree, what the largest difference is measured against)
COMPARISONS = {
    "classification": (_compare_classes, "class", "the outputs' range"),
    "detection": (_compare_detections, "confident detections", "the image side"),
}


def main(extra: list) -> int:
    if not (HERE / "model.engine").is_file():
        print("error: no model.engine; run ./build_engine.sh first")
        return 2
    try:
        check = json.loads((HERE / "check" / "expected.json").read_text())
        labels = (HERE / "labels.txt").read_text().split("\n")
    except (OSError, ValueError) as error:
        print(f"error: the bundle's check/expected.json or labels.txt is missing or unreadable ({error})")
        return 2
    compare, agreeing, extent_words = COMPARISONS[check["task"]]
    trtexec = _trtexec()
    extra = [*extra, *_dla_options(extra)]
    failures, compared, mismatched, largest, spread = [], 0, 0, 0.0, 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for batch in check["batches"]:
            where, want = batch["file"], batch["values"]
            got = _engine_outputs(trtexec, check["input"]["name"], HERE / "check" / where, extra, Path(scratch))
            if any(name not in got or len(got[name]) != len(values) for name, values in want.items()):
                failures.append(f"{where}: the engine's outputs are not " + str(check["outputs"]))
                continue
            if not all(math.isfinite(value) for values in got.values() for value in values):
                failures.append(f"{where}: the engine gave NaN or infinite outputs")
                continue
            samples, wrong, difference, extent = compare(got, want, check, labels, where)
            compared, mismatched = compared + samples, mismatched + len({w.split(":")[0] for w in wrong})
            failures += wrong
            largest, spread = max(largest, difference), max(spread, extent)
    for failure in failures:
        print(f"FAIL {failure}")
    print(
        f"model.engine: {compared - mismatched} of {compared} samples with the {agreeing} {check['source']} "
        f"gave; largest difference {largest:.4g} ({100 * largest / (spread or 1.0):.2f}% of {extent_words})"
    )
    print("PASS" if not failures else "FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
