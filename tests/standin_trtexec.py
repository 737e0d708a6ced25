#!/usr/bin/env python3
"""A stand-in for trtexec on a Jetson board, strict where the real one is, for the bundle's scripts.

It accepts only the options of its TensorRT version (TRTEXEC_VERSION: 8.5, 8.6 or 10.3; their tables in
data/trtexec_options.json come from each version's sampleOptions.cpp) and stops on any other with
trtexec's "Unknown option" error and exit status 1. `--onnx` with `--saveEngine` "builds" an engine (a
JSON file naming the ONNX); `--loadEngine` reads one back and refuses anything else. Unless told
`--skipInference` (or 8.x's `--buildOnly`), it runs the model under onnxruntime, times it, and prints
the performance summary in trtexec's order (sampleReporting.cpp's printEpilog). `--loadInputs` and
`--exportOutput` read and write tensors as trtexec does (C++'s nan included).

Test hooks: TRTEXEC_LOG appends each command line to a file; ENGINE_FAULT=nan|reversed makes the engine
compute something else.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

OPTIONS = json.loads((Path(__file__).resolve().parent / "data" / "trtexec_options.json").read_text())
ENGINE_FORMAT = "compressor-test.standin-engine/1"
SUMMARY = ("Latency", "Enqueue Time", "H2D Latency", "GPU Compute Time", "D2H Latency")  # after Throughput


def log(level: str, message: str) -> None:
    print(f"[{time.strftime('%m/%d/%Y-%H:%M:%S')}] [{level}] {message}", flush=True)


def write_engine(path: Path, onnx_path: Path, version: str, options: dict[str, str]) -> None:
    """What `trtexec --onnx --saveEngine` leaves here: the ONNX it stands for and how it was built."""
    record = {"format": ENGINE_FORMAT, "onnx": str(onnx_path.resolve()), "tensorrt": version, "options": options}
    path.write_text(json.dumps(record))


def parse(arguments: list[str], version: str) -> dict[str, str]:
    known = set(OPTIONS[version]["options"])
    options: dict[str, str] = {}
    for argument in arguments:
        key, _, value = argument.partition("=")
        if key not in known:
            log("E", f"Unknown option: {key} {value}")
            log("I", "&&&& FAILED TensorRT.trtexec")
            sys.exit(1)
        options[key] = value
    return options


def load_engine(path: Path, version: str) -> Path:
    try:
        record = json.loads(path.read_text())
        assert record["format"] == ENGINE_FORMAT
    except (OSError, ValueError, KeyError, AssertionError, TypeError):
        log("E", f"Error opening engine file: {path}: not an engine this trtexec can deserialize")
        sys.exit(1)
    if record["tensorrt"] != version:
        log("E", f"The engine plan file is not compatible with this version of TensorRT ({record['tensorrt']})")
        sys.exit(1)
    return Path(record["onnx"])


def export_outputs(session: object, feed: dict[str, np.ndarray], target: str) -> None:
    """The outputs as trtexec's --exportOutput writes them: name, "AxB" dimensions, values (%g)."""
    fault = os.environ.get("ENGINE_FAULT", "")
    with open(target, "w") as out:
        out.write("[\n")
        for number, (node, value) in enumerate(zip(session.get_outputs(), session.run(None, feed), strict=True)):  # type: ignore[attr-defined]
            values = value.ravel()
            if fault == "nan":
                values = values * float("nan")
            if fault == "reversed":
                values = values[::-1]
            out.write(("  " if number == 0 else ", ") + '{ "name" : "' + node.name + '"\n')
            out.write('  , "dimensions" : "' + "x".join(map(str, value.shape)) + '"\n')
            out.write('  , "values" : [ ' + ", ".join(f"{v:g}" for v in values) + " ]\n  }\n")
        out.write("]\n")


def inputs(session: object, options: dict[str, str]) -> dict[str, np.ndarray]:
    """--loadInputs=name:file for the one input, else zeros (trtexec fills unnamed inputs itself)."""
    (spec,) = session.get_inputs()  # type: ignore[attr-defined]
    shape = [dim if isinstance(dim, int) else 1 for dim in spec.shape]
    dtype = np.float32 if "float" in spec.type else np.int64
    if "--loadInputs" in options:
        name, file = options["--loadInputs"].split(":", 1)
        assert name.strip("'") == spec.name, f"no input named {name}"
        return {spec.name: np.fromfile(file, dtype=dtype).reshape(shape)}
    return {spec.name: np.zeros(shape, dtype=dtype)}


def summary(times_ms: list[float], queries: int, seconds: float) -> None:
    def perf(values: list[float]) -> str:
        return (
            f"min = {min(values):g} ms, max = {max(values):g} ms, mean = {np.mean(values):g} ms, "
            f"median = {np.median(values):g} ms, percentile(90%) = {np.percentile(values, 90):g} ms"
        )

    log("I", "")
    log("I", "=== Performance summary ===")
    log("I", f"Throughput: {queries / seconds:g} qps")
    parts = {"Enqueue Time": 0.05, "H2D Latency": 0.1, "GPU Compute Time": 0.8, "D2H Latency": 0.05}
    for name in SUMMARY:
        log("I", f"{name}: {perf([t * parts.get(name, 1.0) for t in times_ms])}")
    log("I", f"Total Host Walltime: {seconds:g} s")
    log("I", f"Total GPU Compute Time: {sum(times_ms) * 0.8 / 1000:g} s")
    log("I", "Explanations of the performance metrics are printed in the verbose logs.")


def main() -> None:
    version = os.environ.get("TRTEXEC_VERSION", "10.3")
    if os.environ.get("TRTEXEC_LOG"):
        with open(os.environ["TRTEXEC_LOG"], "a") as record:
            record.write(" ".join(sys.argv[1:]) + "\n")
    options = parse(sys.argv[1:], version)
    if "--onnx" in options:
        model = Path(options["--onnx"])
        if not model.is_file():
            log("E", f"Failed to parse onnx file {model}")
            sys.exit(1)
        if "--saveEngine" in options:
            write_engine(Path(options["--saveEngine"]), model, version, options)
            log("I", f"Engine built; saved to {options['--saveEngine']}")
    elif "--loadEngine" in options:
        model = load_engine(Path(options["--loadEngine"]), version)
    else:
        log("E", "Model missing or format not recognized")
        sys.exit(1)
    if "--skipInference" in options or "--buildOnly" in options:
        log("I", "Skipped inference phase since --skipInference is added.")
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(model))
        feed = inputs(session, options)
        iterations = max(1, int(options.get("--iterations", "10")))
        times_ms = []
        started = time.perf_counter()
        for _ in range(iterations):
            begin = time.perf_counter()
            session.run(None, feed)
            times_ms.append((time.perf_counter() - begin) * 1000)
        summary(times_ms, iterations, time.perf_counter() - started)
        if "--exportOutput" in options:
            export_outputs(session, feed, options["--exportOutput"])
        if "--exportTimes" in options:
            Path(options["--exportTimes"]).write_text(json.dumps([{"latencyMs": t} for t in times_ms]))
    log("I", "&&&& PASSED TensorRT.trtexec")


if __name__ == "__main__":
    main()
