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
    return labels[index] if index < len(labels) and labels[index] else f"class {index}"


def main(extra: list) -> int:
    if not (HERE / "model.engine").is_file():
        print("error: no model.engine; run ./build_engine.sh first")
        return 2
    expected = json.loads((HERE / "check" / "expected.json").read_text())
    labels = (HERE / "labels.txt").read_text().split("\n")
    output = expected["output"]
    classes = output["shape"][-1]
    trtexec = _trtexec()
    extra = [*extra, *_dla_options(extra)]
    failures, compared, largest, spread = [], 0, 0.0, 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for batch in expected["batches"]:
            file = HERE / "check" / batch["file"]
            got = _engine_outputs(trtexec, expected["input"]["name"], file, extra, Path(scratch)).get(output["name"])
            want = batch["values"]
            if got is None or len(got) != len(want):
                failures.append(f"{batch['file']}: the engine's {output['name']} is not {output['shape']}")
                continue
            if not all(math.isfinite(value) for value in got):
                failures.append(f"{batch['file']}: the engine gave NaN or infinite outputs")
                continue
            largest = max(largest, max(abs(a - b) for a, b in zip(got, want)))  # noqa: B905 (3.8: no strict=)
            spread = max(spread, max(want) - min(want))
            for start in range(0, len(want), classes):
                compared += 1
                engine_class, onnx_class = _top(got[start : start + classes]), _top(want[start : start + classes])
                if engine_class != onnx_class:
                    failures.append(
                        f"{batch['file']} sample {start // classes}: the engine says {_name(labels, engine_class)}, "
                        f"onnxruntime said {_name(labels, onnx_class)}"
                    )
    for failure in failures:
        print(f"FAIL {failure}")
    agreed = compared - sum(" sample " in failure for failure in failures)
    print(
        f"model.engine: {agreed} of {compared} samples in the class {expected['source']} gave; largest output "
        f"difference {largest:.4g} ({100 * largest / (spread or 1.0):.2f}% of the output range)"
    )
    print("PASS" if not failures else "FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
