"""Calibrated activation ranges saved to a file and quantized from, on every onnxruntime we support.

We calibrate ourselves (`onnx_int8.calibrate`) and hand the ranges to `quantize_static` as a file:
onnxruntime's own calibration cache where it has one (1.28 and later), else our JSON with a calibrator
stand-in that returns the ranges. `NATIVE_CACHE` says which path runs; both write the same int8 model
(`tests/test_quantize.py`).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization.calibrate import CalibrationDataReader, CalibrationMethod, TensorData, TensorsData

# the modules (onnxruntime.quantization's own `quantize` and `calibrate` names are not them)
ort_calibrate = importlib.import_module("onnxruntime.quantization.calibrate")
ort_quantize = importlib.import_module("onnxruntime.quantization.quantize")
# onnxruntime reads and writes the calibration cache itself (1.28 and later).
NATIVE_CACHE = hasattr(ort_calibrate, "save_tensors_data") and (
    "calibration_cache_path" in inspect.signature(ort_quantize.quantize_static).parameters
)


def save_ranges(data: TensorsData, path: Path) -> None:
    """Write `data` to `path`: onnxruntime's calibration cache where it has one, else our JSON."""
    if NATIVE_CACHE:
        ort_calibrate.save_tensors_data(data, path)
        return
    payload = {
        "calibration_method": data.calibration_method.name,
        "data": {name: _fields(tensor) for name, tensor in data.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=".ranges_", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(payload, file)  # -inf and NaN as JSON's common extension, read back by json.load
        os.replace(scratch, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)
        raise


def load_ranges(path: Path) -> TensorsData:
    """The ranges `save_ranges` wrote to `path`."""
    if NATIVE_CACHE:
        return ort_calibrate.load_tensors_data(path)
    payload = json.loads(Path(path).read_text())
    return TensorsData(
        CalibrationMethod[payload["calibration_method"]],
        {
            name: TensorData(**{key: _value(value) for key, value in fields.items()})
            for name, fields in payload["data"].items()
        },
    )


def _fields(tensor: TensorData) -> dict[str, Any]:
    fields = {key: value for key, value in tensor.to_dict().items() if key != "CLS"}
    return {key: _encoded(value) for key, value in fields.items()}


def _encoded(value: Any) -> Any:
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        kind = "array" if isinstance(value, np.ndarray) else "scalar"
        return {kind: array.ravel().tolist(), "dtype": str(array.dtype), "shape": list(array.shape)}
    return value


def _value(encoded: Any) -> Any:
    if not isinstance(encoded, dict):
        return encoded
    if "scalar" in encoded:
        return np.dtype(encoded["dtype"]).type(encoded["scalar"][0])
    return np.array(encoded["array"], dtype=encoded["dtype"]).reshape(encoded["shape"])


def quantize_static_from_ranges(source: Path, target: Path, ranges: Path, **options: Any) -> None:
    """`quantize_static(source, target, ...)` with the activation ranges in `ranges` (`save_ranges`'s
    file), calibrating nothing; `options` are quantize_static's keyword arguments."""
    if NATIVE_CACHE:
        ort_quantize.quantize_static(str(source), str(target), None, calibration_cache_path=str(ranges), **options)
        return
    data = load_ranges(ranges)
    method = options.get("calibrate_method", CalibrationMethod.MinMax)
    if data.calibration_method != method:  # onnxruntime's own check on its cache
        raise ValueError(
            f"Calibration cache at {ranges} was produced with {data.calibration_method}, but quantize_static "
            f"was called with calibrate_method={method}. Delete the cache or pass a matching calibrate_method."
        )
    with _calibrator_returning(data):
        ort_quantize.quantize_static(str(source), str(target), _NoBatches(), **options)


class _NoBatches(CalibrationDataReader):
    def get_next(self) -> None:
        return None


class _Calibrated:
    """What `quantize_static` asks of the calibrator it creates: collect (nothing here), then compute."""

    def __init__(self, data: TensorsData) -> None:
        self.data = data

    def collect_data(self, reader: CalibrationDataReader) -> None:
        pass

    def compute_data(self) -> TensorsData:
        return self.data


@contextlib.contextmanager
def _calibrator_returning(data: TensorsData) -> Iterator[None]:
    """`quantize_static` creating a calibrator that returns `data` (for this call; quantization runs on
    one thread of a process)."""
    original = ort_quantize.create_calibrator
    ort_quantize.create_calibrator = lambda *args, **kwargs: _Calibrated(data)
    try:
        yield
    finally:
        ort_quantize.create_calibrator = original
