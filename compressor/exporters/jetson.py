"""A bundle to copy to a Jetson board: the ONNX its TensorRT accepts, the scripts that build and time the
engine there, and a manifest of what the model expects and what accuracy it should give.

Engines are built on the device (they belong to its GPU and TensorRT version), so the bundle needs no
GPU to make. int8 is explicit Q/DQ in the ONNX (symmetric int8, calibrated on train data), which
TensorRT builds from without a calibrator or a calibration cache that could be reused on the wrong
device. Shapes are static and the opset one JetPack's TensorRT parses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import textwrap
from importlib import resources
from pathlib import Path
from typing import Any

import onnx
from pydantic import BaseModel

from compressor import __version__
from compressor.core.errors import OptionError, brief
from compressor.core.files import atomic_path, write_text_atomic
from compressor.core.handle import ModelHandle
from compressor.core.progress import warn
from compressor.data.base import DatasetBundle, deterministic_subset
from compressor.exporters.preprocessing import Preprocessing, preprocessing
from compressor.exporters.tensorrt import OPTIMIZATION_LEVEL, sha256_of
from compressor.measurement.evaluate import evaluate
from compressor.methods.calibration import DatasetCalibrationReader
from compressor.models.onnx_file import static_batch_size
from compressor.models.onnx_graph import converted_to_opset, onnx_opset
from compressor.runtime.fixed_batch import FixedBatchRunner
from compressor.runtime.onnxruntime_runner import OnnxRuntimeRunner
from compressor.tasks import get_task

# The TensorRT each JetPack ships (JetPack 6.2 pins TensorRT 10.3).
JETPACK_TENSORRT = {"6.2": "10.3", "6.1": "10.3", "6.0": "8.6", "5.1.3": "8.5", "5.1": "8.5"}
JETSON_OPSET = 17  # parsed by TensorRT 8.5 and 10.3 alike
LEVELLED_TENSORRT = (8, 6)  # the first TensorRT with a builder optimisation level (trtexec refuses the flag before)
# trtexec's "build, do not time": --buildOnly up to 8.5 (JetPack 5), --skipInference from 8.6 (where --buildOnly
# is its deprecated alias; 10.x knows only --skipInference). Each stops on the other's unknown spelling.
SKIP_INFERENCE_TENSORRT = (8, 6)
JETSON_PRECISIONS = ("int8", "fp16")
# With --int8 --fp16 (JetPack's TensorRT 8.5 to 10.3, weakly typed) the layers left unquantized run in fp16.
_PRECISION_FLAGS = {"int8": "--int8 --fp16", "fp16": "--fp16"}


class TensorSpec(BaseModel):
    name: str
    shape: list[int]  # -1: decided at run time (a detector's number of boxes)
    dtype: str


class ExpectedAccuracy(BaseModel):
    metric: str
    bundle: float  # this bundle's model.onnx, run by onnxruntime on CPU
    fp32: float  # the float model it came from, same samples
    samples: int
    dataset: str
    backend: str = "onnxruntime (CPU)"


class Calibration(BaseModel):
    dataset: str
    dataset_fingerprint: str
    split: str = "train"
    samples: int
    method: str
    fingerprint: str  # sha256 of the calibration inputs exactly as fed to the calibrator


class JetsonManifest(BaseModel):
    format: str = "compressor.jetson-bundle/1"
    created_by: str
    model: str
    task: str
    precision: str
    jetpack: str
    tensorrt: str
    onnx: str
    onnx_sha256: str
    opset: int
    batch_size: int
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    preprocessing: Preprocessing
    labels: list[str]
    expected_accuracy: ExpectedAccuracy
    calibration: Calibration | None
    builder_optimization_level: int | None  # None: the JetPack's TensorRT has no such setting (8.5)
    engine_check: str | None = None  # inputs and onnxruntime's outputs for check_engine.py on the board


def check_jetson_options(precision: str, jetpack: str, batch_size: int) -> None:
    if precision not in JETSON_PRECISIONS:
        raise OptionError(f"a Jetson bundle is int8 or fp16, not {precision!r} (fp32 wastes the device)")
    if jetpack not in JETPACK_TENSORRT:
        raise OptionError(f"unknown JetPack {jetpack!r}; known: {', '.join(JETPACK_TENSORRT)}")
    if batch_size < 1:
        raise OptionError(f"--batch-size must be at least 1, got {batch_size}")


def bundle_source(fp32: ModelHandle, batch_size: int, work: Path) -> ModelHandle:
    """An ONNX file from elsewhere, as the bundle takes it: its fixed batch must be the bundle's, and a newer
    opset than JETSON_OPSET is converted down to it where ONNX's converter can (else kept, with a warning)."""
    assert fp32.onnx_path is not None
    fixed = static_batch_size(fp32.onnx_path)
    if fixed is not None and fixed != batch_size:
        raise OptionError(f"{fp32.onnx_path} takes batches of {fixed} only; pass --batch-size {fixed}")
    model = onnx.load(str(fp32.onnx_path))
    opset = onnx_opset(model) or JETSON_OPSET
    if opset <= JETSON_OPSET:
        return fp32
    try:
        converted = converted_to_opset(model, JETSON_OPSET, work / f"source.opset{JETSON_OPSET}.onnx")
    except Exception as error:  # noqa: BLE001  (the converter raises its own types per operator)
        warn(
            f"{fp32.onnx_path} stays at opset {opset}: converting it to {JETSON_OPSET}, which TensorRT 8.5 and 10.3 "
            f"parse alike, failed ({brief(error, 100)}); check it with trtexec on the board, or export it at "
            f"opset {JETSON_OPSET}"
        )
        return fp32
    return dataclasses.replace(fp32, onnx_path=converted)


def make_static(source: Path, target: Path, batch_size: int, spec_shape: tuple[int, ...]) -> onnx.ModelProto:
    """`source` with its inputs' symbolic axes fixed (batch, and a text model's length) and its outputs' axes
    fixed where they follow from the inputs; an axis the data decides (a detector's number of boxes) stays
    symbolic, since any size written there would be false."""
    model = onnx.load(str(source))
    sizes: dict[str, int] = {}
    for value in model.graph.input:
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if not dim.HasField("dim_value"):
                size = batch_size if axis == 0 else int(spec_shape[axis - 1])
                sizes[dim.dim_param] = size
                dim.dim_value = size
    names: dict[tuple[str, int], str] = {}  # output axes left for shape inference, by their original name
    for value in model.graph.output:
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if dim.HasField("dim_param") and dim.dim_param in sizes:
                dim.dim_value = sizes[dim.dim_param]
            elif dim.HasField("dim_param"):
                names[(value.name, axis)] = dim.dim_param
                dim.ClearField("dim_param")
    used = {node.domain for node in model.graph.node} | {"", "ai.onnx"}
    kept = [entry for entry in model.opset_import if entry.domain in used]  # onnxruntime's passes add many
    del model.opset_import[:]
    model.opset_import.extend(kept)
    del model.graph.value_info[:]  # stale symbolic shapes; re-inferred below
    model = onnx.shape_inference.infer_shapes(model)
    for value in model.graph.output:
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if not dim.HasField("dim_value"):
                dim.dim_param = names.get((value.name, axis), dim.dim_param)
    onnx.checker.check_model(model)
    with atomic_path(target) as tmp:
        onnx.save(model, str(tmp))
    return model


def calibration_fingerprint(reader: DatasetCalibrationReader) -> str:
    """A hash of the calibration batches themselves: two bundles share it only if calibrated alike."""
    digest = hashlib.sha256()
    reader.rewind()
    while (batch := reader.get_next()) is not None:
        for name in sorted(batch):
            digest.update(name.encode())
            digest.update(batch[name].tobytes())
    reader.rewind()
    return digest.hexdigest()


def _tensor_specs(values: Any) -> list[TensorSpec]:
    return [
        TensorSpec(
            name=value.name,
            shape=[dim.dim_value if dim.HasField("dim_value") else -1 for dim in value.type.tensor_type.shape.dim],
            dtype=onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name,
        )
        for value in values
    ]


def write_bundle_files(
    output_dir: Path,
    handle: ModelHandle,
    model: onnx.ModelProto,
    precision: str,
    jetpack: str,
    batch_size: int,
    accuracy: ExpectedAccuracy,
    calibration: Calibration | None,
    checked_samples: int,
) -> JetsonManifest:
    """The manifest, labels, scripts and device README beside model.onnx and check/ (already in
    `output_dir`; `checked_samples` 0 where the task has no engine check)."""
    initializers = {tensor.name for tensor in model.graph.initializer}
    manifest = JetsonManifest(
        created_by=f"compressor {__version__}",
        model=handle.name,
        task=handle.task,
        precision=precision,
        jetpack=jetpack,
        tensorrt=JETPACK_TENSORRT[jetpack],
        onnx="model.onnx",
        onnx_sha256=sha256_of(output_dir / "model.onnx"),
        opset=onnx_opset(model),
        batch_size=batch_size,
        inputs=_tensor_specs([v for v in model.graph.input if v.name not in initializers]),
        outputs=_tensor_specs(model.graph.output),
        preprocessing=preprocessing(handle),
        labels=list(handle.class_names),
        expected_accuracy=accuracy,
        calibration=calibration,
        builder_optimization_level=OPTIMIZATION_LEVEL if _has_builder_levels(jetpack) else None,
        engine_check="check/expected.json" if checked_samples else None,
    )
    templates = resources.files("compressor.exporters") / "jetson_templates"
    substitutions = {
        "__TENSORRT__": manifest.tensorrt,
        "__JETPACK__": jetpack,
        "__PRECISION__": precision,
        "__PRECISION_FLAGS__": _PRECISION_FLAGS[precision],
        "__LEVEL_FLAG__": f"--builderOptimizationLevel={OPTIMIZATION_LEVEL}" if _has_builder_levels(jetpack) else "",
        "__BUILD_ONLY_FLAG__": _build_only_flag(jetpack),
    }
    for script in ("build_engine.sh", "benchmark.sh", *(["check_engine.py"] if checked_samples else [])):
        text = (templates / script).read_text()
        for key, value in substitutions.items():
            text = text.replace(key, value)
        write_text_atomic(output_dir / script, text)
        (output_dir / script).chmod(0o755)
    if not checked_samples:
        (output_dir / "check_engine.py").unlink(missing_ok=True)  # an earlier bundle's, rebuilt with --force
    write_text_atomic(output_dir / "labels.txt", "\n".join(manifest.labels) + "\n")
    write_text_atomic(output_dir / "README.md", _device_readme(manifest, checked_samples))
    write_text_atomic(output_dir / "manifest.json", manifest.model_dump_json(indent=2) + "\n")
    return manifest


def _tensorrt_version(jetpack: str) -> tuple[int, int]:
    major, minor = (int(part) for part in JETPACK_TENSORRT[jetpack].split(".")[:2])
    return major, minor


def _has_builder_levels(jetpack: str) -> bool:
    return _tensorrt_version(jetpack) >= LEVELLED_TENSORRT


def _build_only_flag(jetpack: str) -> str:
    return "--skipInference" if _tensorrt_version(jetpack) >= SKIP_INFERENCE_TENSORRT else "--buildOnly"


def _framing_words(prep: Preprocessing) -> str:
    """How a frame becomes the input's height and width, in the words of the device README."""
    height, width = prep.center_crop
    if prep.fit == "letterbox":
        return (
            f"letterboxed into {height}x{width}: scaled to fit inside it with its aspect kept ({prep.interpolation}), "
            f"centred, the margins filled with pixel value {prep.pad}"
        )
    return (
        f"resized {_resize_words(prep)} ({prep.interpolation}), its centre cropped to {height}x{width} "
        f"({_crop_words(prep)})"
    )


def _resize_words(prep: Preprocessing) -> str:
    if len(prep.resize) == 1:
        return f"short side to {prep.resize[0]} (aspect kept)"
    return f"to {prep.resize[0]}x{prep.resize[1]}"


def _colour_words(prep: Preprocessing) -> str:
    if prep.color == "GRAY":
        return "GRAY: one channel, 0.299 R + 0.587 G + 0.114 B of an RGB frame"
    return prep.color


def _crop_words(prep: Preprocessing) -> str:
    if prep.crop_rounding == "down":
        return "offsets (margin / 2) rounded down, as transformers' processors crop"
    return "offsets (margin / 2) rounded to the nearest pixel, halves to even, as torchvision's CenterCrop"


def _normalisation_words(prep: Preprocessing) -> str:
    if set(prep.mean) == {0.0} and set(prep.std) == {1.0}:
        return " (the model normalises them itself)"
    return f", then (x - mean) / std with mean {prep.mean} and std {prep.std}"


_CHECK_RULES = {
    "classification": (
        "gets the class onnxruntime gave model.onnx where this bundle was made",
        "samples onnxruntime classified with a clear margin: a changed class",
    ),
    "detection": (
        "gets the confident detections (score 0.5 or more) onnxruntime gave model.onnx where this bundle was "
        "made, each found again with the same label at IoU 0.5 or more, and no others",
        "samples whose detections onnxruntime scored well away from 0.5: a detection found or lost",
    ),
}


def _check_words(task: str, checked_samples: int) -> str:
    if not checked_samples:
        return ""
    rule, samples = _CHECK_RULES[task]
    text = (
        f"`python3 check_engine.py` (after build_engine.sh; further trtexec options pass through) runs the "
        f"engine on {checked_samples} val inputs in check/ and fails unless each {rule}, with every output "
        f"finite. They are {samples} means the engine computes something else, not a near tie."
    )
    return "\n" + textwrap.fill(text, width=104) + "\n"


def _device_readme(manifest: JetsonManifest, checked_samples: int) -> str:
    source = manifest.inputs[0]
    dla_readers = "benchmark.sh and check_engine.py pass" if checked_samples else "benchmark.sh passes"
    prep = manifest.preprocessing
    return f"""# {manifest.model} for Jetson ({manifest.precision}, JetPack {manifest.jetpack})

Made by {manifest.created_by}. Copy this folder to the board, then:

```bash
./build_engine.sh                 # model.engine, built by trtexec on this device (TensorRT {manifest.tensorrt})
./build_engine.sh --useDLACore 0  # or on a DLA core, unsupported layers falling back to the GPU
./benchmark.sh 10                 # latency/throughput for 10 s, board power from tegrastats -> benchmark/
```

An engine built for a DLA core runs there only when trtexec is told which when loading it (else core 0):
build_engine.sh writes the core to model.engine.dla-core, and {dla_readers} it.

Engines belong to the GPU and TensorRT version that built them: build on the device, do not copy
model.engine between boards or JetPack versions. `timing.cache` speeds up rebuilds on the same board.
Record the power mode first (`sudo nvpmodel -q`; `sudo jetson_clocks` for steady clocks): benchmark.sh
saves both in benchmark/settings.txt.

Input `{source.name}`: {source.dtype} {source.shape} ({prep.layout}, {_colour_words(prep)}); each frame
{_framing_words(prep)},
pixels 0-255 times {prep.scale:.6g}{_normalisation_words(prep)}.
Labels: labels.txt, in output order.

Expected {manifest.expected_accuracy.metric}: {manifest.expected_accuracy.bundle:.4f} for model.onnx on
{manifest.expected_accuracy.backend} ({manifest.expected_accuracy.samples} samples of
{manifest.expected_accuracy.dataset}; fp32 model {manifest.expected_accuracy.fp32:.4f}). A TensorRT engine
should land within a few tenths of a point of it. manifest.json holds all of this, machine-readable.
{_check_words(manifest.task, checked_samples)}"""


def read_manifest(path: Path) -> JetsonManifest:
    return JetsonManifest.model_validate(json.loads(Path(path).read_text()))


def calibration_record(
    bundle: DatasetBundle, reader: DatasetCalibrationReader, samples: int, method: str
) -> Calibration:
    return Calibration(
        dataset=bundle.name,
        dataset_fingerprint=bundle.fingerprint,
        samples=samples,
        method=method,
        fingerprint=calibration_fingerprint(reader),
    )


def measure_bundle_accuracy(
    fp32: ModelHandle, bundle_onnx: Path, bundle: DatasetBundle, batch_size: int, max_samples: int | None
) -> ExpectedAccuracy:
    """The bundle's model.onnx (static batch) and its float source, scored on the same val samples."""
    assert fp32.onnx_path is not None
    task = get_task(fp32.task)
    val = deterministic_subset(bundle.split("val", fp32.input_spec), max_samples)
    scores = {}
    for name, runner in (
        ("fp32", OnnxRuntimeRunner(fp32.onnx_path)),
        ("bundle", FixedBatchRunner(OnnxRuntimeRunner(bundle_onnx), batch_size)),
    ):
        try:
            scores[name] = evaluate(runner, task, val, fp32.input_spec, label=f"{name} accuracy")[task.primary_metric]
        finally:
            runner.close()
    return ExpectedAccuracy(
        metric=task.primary_metric,
        samples=len(val),
        dataset=bundle.name,
        **scores,  # type: ignore[arg-type]
    )
