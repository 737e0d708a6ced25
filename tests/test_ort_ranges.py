"""Static int8 from our calibrated ranges on an onnxruntime without a calibration cache (before 1.28): the
fallback in `ort_ranges` writes the same int8 model as onnxruntime's own cache does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from calibration_reader import ListReader
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization.calibrate import CalibrationMethod, TensorData, TensorsData

from compressor.methods import ort_ranges
from compressor.methods.onnx_int8 import Int8Settings, calibrate, int8_node_count, quantize_int8


def _conv_relu(path: Path) -> None:
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.normal(size=(8, 4, 3, 3)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"], name="relu"),
    ]
    value = lambda name, channels: helper.make_tensor_value_info(name, TensorProto.FLOAT, [2, channels, 8, 8])  # noqa: E731
    graph = helper.make_graph(nodes, "g", [value("x", 4)], [value("y", 8)], [weight])
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)])  # 1.20 reads IR <= 10
    onnx.save(model, str(path))


def _int8(tmp_path: Path, name: str, calibration: str) -> Path:
    model, ranges, target = tmp_path / "m.onnx", tmp_path / f"{name}.ranges.json", tmp_path / f"{name}.int8.onnx"
    if not model.exists():
        _conv_relu(model)
    rng = np.random.default_rng(1)
    reader = ListReader([rng.normal(size=(2, 4, 8, 8)).astype(np.float32) for _ in range(3)])
    settings = Int8Settings(calibration=calibration)
    calibrate(model, reader, settings, ranges)  # type: ignore[arg-type]
    quantize_int8(model, target, settings, [], ranges)
    return target


@pytest.mark.parametrize("calibration", ["minmax", "entropy"])
def test_the_fallback_quantizes_as_onnxruntimes_cache_does(
    calibration: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    native = _int8(tmp_path, "native", calibration) if ort_ranges.NATIVE_CACHE else None
    monkeypatch.setattr(ort_ranges, "NATIVE_CACHE", False)  # as onnxruntime before 1.28
    fallback = _int8(tmp_path, "fallback", calibration)

    assert int8_node_count(fallback) > 0
    x = np.random.default_rng(2).normal(size=(2, 4, 8, 8)).astype(np.float32)
    (y,) = ort.InferenceSession(str(fallback), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert y.shape == (2, 8, 8, 8) and np.isfinite(y).all()
    if native is not None:  # onnxruntime 1.28+: the same model either way
        assert onnx.load(str(fallback)).graph == onnx.load(str(native)).graph


def test_the_fallback_file_keeps_every_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort_ranges, "NATIVE_CACHE", False)
    data = TensorsData(
        CalibrationMethod.Entropy,
        {
            "mask": TensorData(lowest=np.float32(-np.inf), highest=np.float32(0.0)),
            "x": TensorData(
                lowest=np.array(-1.5, np.float32),
                highest=np.array(2.25, np.float32),
                hist=np.array([1, 0, 3], np.int64),
                hist_edges=np.array([0.0, 0.5, 1.0, 1.5], np.float32),
            ),
        },
    )
    path = tmp_path / "ranges.json"
    ort_ranges.save_ranges(data, path)
    loaded = ort_ranges.load_ranges(path)

    assert loaded.calibration_method == CalibrationMethod.Entropy and set(loaded) == {"mask", "x"}
    assert loaded["mask"].range_value == (np.float32(-np.inf), np.float32(0.0))
    for key in ("lowest", "highest", "hist", "hist_edges"):
        expected, value = getattr(data["x"], key), getattr(loaded["x"], key)
        assert value.dtype == expected.dtype and value.shape == expected.shape and np.array_equal(value, expected)
    with pytest.raises(ValueError, match="calibrate_method"):  # onnxruntime's check on its cache, kept
        ort_ranges.quantize_static_from_ranges(tmp_path / "m.onnx", tmp_path / "q.onnx", path)
