"""`load_model`: every model source kind becomes a ModelHandle, through a registry of sources.

Sources, tried in this order: an OpenVINO IR (`.xml`); an `.onnx` file; `path/to/file.py:factory`; a
checkpoint file (written by `compress train`, or a whole pickled model); a Hugging Face model directory; a
zoo name. Weights for a zoo
name or file factory: none (the reference checkpoint for the dataset), `random`, or a checkpoint / plain
state_dict path. `register_model_source` adds a kind, tried before these.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compressor.core.errors import InputFileError, ModelMismatchError, OptionError, UnknownNameError, brief
from compressor.core.handle import FITS, REVISION, InputSpec, ModelHandle
from compressor.core.image_size import image_size_text
from compressor.core.progress import info, warn
from compressor.data.base import DatasetBundle
from compressor.models.architecture_changes import ARCHITECTURE_CHANGES, apply_architecture_changes
from compressor.models.catalog import get_entry
from compressor.models.checkpoint import REDUCED_PRECISION_DTYPES, Checkpoint, apply_state_dict, read_checkpoint
from compressor.models.detection import Detector
from compressor.models.factory_input import configured_spec
from compressor.models.pretrained import is_pretrained_request, load_pretrained, pretrained_spec, torchvision_weights
from compressor.models.reference import reference_path
from compressor.models.registry import ZooEntry
from compressor.runtime.torch_runner import in_model_precision, output_list
from compressor.tasks import get_task


class MissingReferenceError(InputFileError):
    """A zoo model asked for with its reference checkpoint, which is not cached yet (`load_model` never trains)."""


CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors", ".ckpt", ".bin")
RANDOM_WEIGHTS = "random"


def _input_spec(
    bundle: DatasetBundle,
    default_size: tuple[int, int],
    image_size: tuple[int, int] | None,
    channels: int = 3,
    model: str = "the model",
) -> InputSpec:
    """Explicit size first, then the data's own size (shapes: 64x64; an ImageFolder whose images all have
    one size), then the model's default."""
    return InputSpec.image(image_size or data_size(bundle) or default_size, channels, model)


_told_sizes: set[str] = set()


def data_size(bundle: DatasetBundle) -> tuple[int, int] | None:
    """The size the data is made at, or the size all its image files share (said once per dataset)."""
    if bundle.native_size is not None or bundle.files_size is None:
        return bundle.native_size
    if bundle.name not in _told_sizes:
        _told_sizes.add(bundle.name)
        info(f"input {image_size_text(bundle.files_size)}: the size every image in {bundle.name} has")
    return bundle.files_size


def image_channels(model: nn.Module) -> int:
    """The channels a user's image model reads: its first convolution's (1 for a grayscale model), else 3."""
    first = next((module for module in model.modules() if isinstance(module, nn.Conv2d)), None)
    return first.in_channels if first is not None else 3


def build_zoo_handle(entry: ZooEntry, bundle: DatasetBundle, spec: InputSpec) -> ModelHandle:
    """A zoo model with deterministic random weights, sized for the dataset's classes."""
    torch.manual_seed(0)
    return ModelHandle(
        name=entry.name,
        task=entry.task,
        input_spec=spec,
        class_names=list(bundle.class_names),
        module=entry.build(bundle.num_classes, spec),
        source=f"zoo:{entry.name}",
        weights=RANDOM_WEIGHTS,
        metadata={REVISION: entry.revision},
    )


def _check_classes(checkpoint_classes: list[str], bundle: DatasetBundle | None, origin: str) -> None:
    if bundle is not None and len(checkpoint_classes) != bundle.num_classes:
        raise ModelMismatchError(
            f"{origin} predicts {len(checkpoint_classes)} classes but {bundle.name} has "
            f"{bundle.num_classes}; pass the dataset it was trained on"
        )


def _warn_of_an_older_revision(entry: ZooEntry, description: dict[str, Any], origin: str) -> None:
    """A checkpoint of an earlier revision of a zoo network takes the new network's weights without
    complaint whenever the shapes match, and computes otherwise; those that record no revision may be of
    either."""
    recorded = description.get(REVISION)
    if recorded == entry.revision or (recorded is None and entry.revision == 1):
        return
    written = f"revision {recorded}" if recorded is not None else "no revision (written before 2026-12-04)"
    warn(
        f"{origin} records {written} of {entry.name}, which is at revision {entry.revision} ({entry.revision_note}): "
        "its weights load into the new network, which computes otherwise than the one they were trained in "
        "if that was an older revision; retrain it if its accuracy fell"
    )


def _weights_into(
    handle: ModelHandle, weights: str, bundle: DatasetBundle, cached_reference: bool = False
) -> ModelHandle:
    """`weights` loaded into the model; `cached_reference`: a reference checkpoint, whose cache file name
    already holds the zoo revision it was trained on."""
    checkpoint: Checkpoint = read_checkpoint(weights)
    if checkpoint.description is not None:
        if handle.source == f"zoo:{checkpoint.description['name']}" and not cached_reference:
            _warn_of_an_older_revision(get_entry(handle.name), checkpoint.description, weights)
        _check_classes(checkpoint.description["class_names"], bundle, weights)
        handle.class_names = list(checkpoint.description["class_names"])
        handle.input_spec = InputSpec.from_dict(checkpoint.description["input_spec"])
    assert handle.module is not None
    if checkpoint.description is not None and ARCHITECTURE_CHANGES in checkpoint.description:  # pruned
        apply_architecture_changes(handle.module, checkpoint.description[ARCHITECTURE_CHANGES], checkpoint.state_dict)
        handle.metadata[ARCHITECTURE_CHANGES] = checkpoint.description[ARCHITECTURE_CHANGES]
    apply_state_dict(handle.module, checkpoint.state_dict, weights)
    handle.weights = str(weights)
    return handle


def _load_file_factory(spec: str, bundle: DatasetBundle, image_size: tuple[int, int] | None) -> ModelHandle:
    """`file.py:factory`: import exactly the file the user named and call its factory."""
    file_part, _, factory_name = spec.rpartition(":")
    path = Path(file_part).expanduser()
    if not path.is_file():
        raise InputFileError(f"model file not found: {path}")
    module_name = f"compressor_user_model_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise InputFileError(f"cannot import {path} as Python")
    user_module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = user_module
    try:
        loader_spec.loader.exec_module(user_module)
    except Exception as error:  # noqa: BLE001  (the user's code can raise anything)
        raise InputFileError(f"importing {path} failed: {type(error).__name__}: {brief(error)}") from error
    factory = getattr(user_module, factory_name, None)
    if not callable(factory):
        raise UnknownNameError(f"{path} has no callable {factory_name!r}")
    accepts_classes = "num_classes" in inspect.signature(factory).parameters
    torch.manual_seed(0)
    try:
        model = factory(num_classes=bundle.num_classes) if accepts_classes else factory()
    except Exception as error:  # noqa: BLE001  (the user's code can raise anything)
        raise InputFileError(f"{spec} raised {type(error).__name__}: {brief(error)}") from error
    if not isinstance(model, nn.Module):
        raise InputFileError(f"{spec} returned {type(model).__name__}, not a torch.nn.Module")
    return _user_model(spec, model, bundle, image_size, RANDOM_WEIGHTS)


def _user_model(
    name: str, model: nn.Module, bundle: DatasetBundle, image_size: tuple[int, int] | None, weights: str
) -> ModelHandle:
    """A user's image classifier (a factory's, or a whole pickled one): fed as its `pretrained_cfg` says,
    else with ImageNet's normalisation, at the size asked, the data's own, or 224."""
    sized = _input_spec(bundle, (224, 224), image_size, image_channels(model), name)
    return ModelHandle(
        name=name,
        task="classification",
        input_spec=configured_spec(model, sized, name),
        class_names=list(bundle.class_names),
        module=model,
        source=name,
        weights=weights,
    )


def _load_described_checkpoint(path: Path, checkpoint: Checkpoint, bundle: DatasetBundle | None) -> ModelHandle:
    if checkpoint.description is None:
        raise InputFileError(
            f"{path} is a plain state_dict with no architecture recorded; pass it with --weights "
            f"to the model it belongs to (e.g. `compress bench mobilenet_v2 --weights {path}`)"
        )
    description = checkpoint.description
    pickled = Path(description["name"]).suffix in CHECKPOINT_SUFFIXES  # a whole pickled model's derivative
    if is_file_factory(description["name"]) or pickled:
        trust = "--trust-checkpoint " if pickled else ""
        raise InputFileError(
            f"{path} holds a model built by {description['name']}; load it with `--weights {path}` on that "
            f"source (e.g. `compress {trust}bench {description['name']} --weights {path}`)"
        )
    entry = get_entry(description["name"])
    _warn_of_an_older_revision(entry, description, str(path))
    _check_classes(description["class_names"], bundle, str(path))
    input_spec = InputSpec.from_dict(description["input_spec"])
    module = entry.build(len(description["class_names"]), input_spec)
    if ARCHITECTURE_CHANGES in description:  # a pruned model: narrower layers than the zoo's
        apply_architecture_changes(module, description[ARCHITECTURE_CHANGES], checkpoint.state_dict)
    apply_state_dict(module, checkpoint.state_dict, str(path))
    if description.get("precision") in REDUCED_PRECISION_DTYPES:  # e.g. model.fp16.pt from compress quantize
        module = module.to(REDUCED_PRECISION_DTYPES[description["precision"]])
    return ModelHandle(
        name=entry.name,
        task=description["task"],
        input_spec=input_spec,
        class_names=list(description["class_names"]),
        module=module,
        source=str(path),
        weights=str(path),
        metadata={
            **{key: v for key, v in description.items() if key in ("train", ARCHITECTURE_CHANGES, "pruning")},
            REVISION: entry.revision,  # the network built here, whatever the file recorded
        },
    )


# The dataset kind each model task reads, where the two names differ: embedding models score texts.
_DATA_TASK = {"embedding": "text"}


def check_task_fits(handle: ModelHandle, bundle: DatasetBundle) -> ModelHandle:
    """`handle`, once its task reads `bundle`'s kind of data: a classifier on detection images or an
    image model on texts is refused in words, not by a batch that fails to stack mid-run."""
    wanted = _DATA_TASK.get(handle.task, handle.task)
    if bundle.task != wanted:
        raise ModelMismatchError(
            f"{handle.name} is a {handle.task} model but {bundle.name} is a {bundle.task} dataset; "
            f"pass {wanted} data with --data"
        )
    return handle


def _checked(handle: ModelHandle, bundle: DatasetBundle, built_elsewhere: bool = False) -> ModelHandle:
    """A torch model that reads `bundle`'s kind of data and takes its input size; one `built_elsewhere` (a
    whole pickled model) must also answer in the data's number of classes, since it is scored by index."""
    return check_input_size(check_task_fits(handle, bundle), bundle.num_classes if built_elsewhere else None)


def check_input_size(handle: ModelHandle, classes: int | None = None) -> ModelHandle:
    """`handle`, once it has run one example input: fail early, in words, when it cannot take the data's
    (or, given `classes`, does not give one logit per class)."""
    assert handle.module is not None
    try:
        with torch.no_grad():
            outputs = handle.module.eval()(
                *in_model_precision(handle.module, get_task(handle.task).example_inputs(handle.input_spec, 1))
            )
    except (RuntimeError, AssertionError, ValueError) as error:  # a user's model may assert its input size
        raise ModelMismatchError(
            f"{handle.name} cannot take input of shape {handle.input_spec.shape}: {brief(error)}"
        ) from error
    logits = output_list(outputs)[0] if classes is not None else None
    if logits is not None and (logits.dim() != 2 or logits.shape[1] != classes):
        raise ModelMismatchError(
            f"{handle.name} gives outputs of shape {tuple(logits.shape)} for one image; a classifier of "
            f"{classes} classes gives (1, {classes})"
        )
    return handle


def _warn_of_assumptions(handle: ModelHandle, bundle: DatasetBundle) -> None:
    """What a file from elsewhere does not say, and is chosen for it, said once as it is loaded."""
    if "dynamic_size" in handle.metadata:
        info(f"{handle.source}: {handle.metadata['dynamic_size']}")
    if "assumed" in handle.metadata:
        classes = ", ".join(bundle.class_names[:4]) + (", ..." if len(bundle.class_names) > 4 else "")
        order = f"its outputs are read as the data's classes in order ({classes})"
        warn(f"{handle.source}: {handle.metadata['assumed']}; {order}")


def _recorded_size_kept(handle: ModelHandle, image_size: tuple[int, int] | None) -> ModelHandle:
    """A model file (checkpoint, ONNX, model directory) runs at the input size it records: the one it was
    trained or exported at, which may also have shaped it (a stride, a static graph). A different
    --image-size is refused rather than silently not applied."""
    if image_size is None:
        return handle
    if len(handle.input_spec.shape) != 3:
        raise OptionError(f"--image-size applies to image models, not to {handle.source}")
    if handle.input_spec.image_size == image_size:
        return handle
    recorded = "x".join(map(str, handle.input_spec.image_size))
    raise OptionError(
        f"{handle.source} takes {recorded} images, as recorded in the file; --image-size applies to zoo names "
        "and file.py:factory (drop it, or export/train the model at that size)"
    )


def _pretrained_zoo_model(
    entry: ZooEntry, bundle: DatasetBundle, request: str, image_size: tuple[int, int] | None, new_head: bool
) -> ModelHandle:
    """A zoo model with torchvision's published weights: a classifier framed as they were evaluated (at the
    data's own size where it has one, as every zoo model); a detector as ever (it frames inside)."""
    weights = torchvision_weights(entry.name, request)
    if entry.task == "classification":
        spec = pretrained_spec(weights, image_size or bundle.native_size)
    else:
        spec = _input_spec(bundle, entry.input_size, image_size)
    handle = _checked(build_zoo_handle(entry, bundle, spec), bundle)
    assert handle.module is not None
    network = handle.module.detector if isinstance(handle.module, Detector) else handle.module  # torchvision's
    load_pretrained(network, entry.name, weights, list(bundle.class_names), new_head)
    handle.weights = f"torchvision {weights}"
    return handle


def is_file_factory(spec: str) -> bool:
    file_part, sep, factory = spec.rpartition(":")
    return bool(sep) and file_part.endswith(".py") and bool(factory)


@dataclass(frozen=True)
class LoadRequest:
    """What `load_model` was asked, as every model source takes it."""

    spec: str
    bundle: DatasetBundle
    weights: str | None = None
    image_size: tuple[int, int] | None = None
    new_head: bool = False
    fit: str | None = None  # how image files become the input (`InputSpec.fit`); None: the model's own


@dataclass(frozen=True)
class ModelSource:
    """One kind of model a spec can name: `matches(spec)` says whether it is this kind, `open` loads it."""

    name: str
    matches: Callable[[str], bool]
    open: Callable[[LoadRequest], ModelHandle]


_SOURCES: list[ModelSource] = []


def register_model_source(
    name: str, matches: Callable[[str], bool], first: bool = True
) -> Callable[[Callable[[LoadRequest], ModelHandle]], Callable[[LoadRequest], ModelHandle]]:
    """Register `open(request) -> ModelHandle` for the specs `matches` accepts. A new source is tried before
    those already registered (`first`), so a plug-in's prefix wins over the zoo's catch-all."""

    def register(open_: Callable[[LoadRequest], ModelHandle]) -> Callable[[LoadRequest], ModelHandle]:
        source = ModelSource(name, matches, open_)
        _SOURCES[:] = [s for s in _SOURCES if s.name != name]
        _SOURCES.insert(0 if first else len(_SOURCES), source)
        return open_

    return register


def model_sources() -> tuple[ModelSource, ...]:
    """The sources in the order `load_model` tries them."""
    return tuple(_SOURCES)


def load_model(
    spec: str,
    bundle: DatasetBundle,
    weights: str | None = None,
    image_size: tuple[int, int] | None = None,
    new_head: bool = False,
    fit: str | None = None,
) -> ModelHandle:
    """Resolve any model source for use on `bundle` (whose classes size the classifier); a torch model that
    cannot take the data's inputs is refused in words. `new_head`: published weights (--weights imagenet or
    coco) on data of other classes get fresh final layers (to fine-tune) instead of an error. `fit`: how
    image files become the input of a model that does not record it (crop, squash or letterbox)."""
    if fit is not None and fit not in FITS:
        raise OptionError(f"unknown --fit {fit!r}; choose from {', '.join(FITS)}")
    request = LoadRequest(spec, bundle, weights, image_size, new_head, fit)
    source = next(source for source in _SOURCES if source.matches(spec))  # the zoo matches every spec
    handle = source.open(request)
    if fit is not None and handle.input_spec.fit != fit:
        if handle.task != "classification":
            raise OptionError(f"--fit frames a classifier's images; {handle.name} is a {handle.task} model")
        raise OptionError(
            f"{spec} records how its images are framed ({handle.input_spec.fit}); --fit {fit} would feed it "
            "otherwise than it was trained"
        )
    return handle


def _fitted(handle: ModelHandle, fit: str | None) -> ModelHandle:
    """A model that records no framing of its own, framed by `fit` (image classifiers only)."""
    if fit is None or handle.task != "classification" or len(handle.input_spec.shape) != 3:
        return handle
    return dataclasses.replace(handle, input_spec=handle.input_spec.fitted(fit))


def _is_checkpoint_file(spec: str) -> bool:
    path = Path(spec).expanduser()
    return path.suffix in CHECKPOINT_SUFFIXES or path.is_file()


@register_model_source("zoo", matches=lambda spec: True)  # last: a name nothing else takes (unknown: refused)
def _zoo_model(request: LoadRequest) -> ModelHandle:
    entry, bundle, weights = get_entry(request.spec), request.bundle, request.weights
    if is_pretrained_request(weights):
        return _pretrained_zoo_model(entry, bundle, str(weights), request.image_size, request.new_head)
    if entry.input_spec is not None:
        model_spec = entry.input_spec(bundle, request.image_size)
    else:
        model_spec = _input_spec(bundle, entry.input_size, request.image_size)
    if request.fit is not None and entry.task == "classification" and len(model_spec.shape) == 3:
        model_spec = model_spec.fitted(request.fit)  # before the reference lookup: its cache key holds it
    # Checked before a reference checkpoint is trained (minutes) for a size the model cannot take.
    handle = _checked(build_zoo_handle(entry, bundle, model_spec), bundle)
    if weights == RANDOM_WEIGHTS:
        return handle
    if weights is None:
        reference = reference_path(entry, bundle, model_spec)
        if not reference.is_file():
            raise MissingReferenceError(
                f"no reference checkpoint for {entry.name} on {bundle.name} yet: the CLI trains it on first use "
                f"(`compress bench {entry.name} --data {bundle.name}`); or pass weights='random' or a checkpoint"
            )
        return _weights_into(handle, str(reference), bundle, cached_reference=True)
    return _weights_into(handle, weights, bundle)


@register_model_source("huggingface", matches=lambda spec: Path(spec).expanduser().is_dir())
def _hf_directory(request: LoadRequest) -> ModelHandle:
    path = Path(request.spec).expanduser()
    if request.weights is not None:
        raise InputFileError(f"{path} is a model directory with its own weights; --weights does not apply")
    from compressor.models.huggingface import load_hf_model  # imports transformers only when asked

    return _recorded_size_kept(_checked(load_hf_model(path, request.bundle), request.bundle), request.image_size)


@register_model_source("checkpoint", matches=_is_checkpoint_file)
def _checkpoint_file(request: LoadRequest) -> ModelHandle:
    path, bundle, weights = Path(request.spec).expanduser(), request.bundle, request.weights
    if not path.is_file():
        raise InputFileError(f"model file not found: {path}")
    checkpoint = read_checkpoint(path)
    if checkpoint.module is not None:  # a whole pickled model (--trust-checkpoint): like a factory's
        handle = _user_model(str(path), checkpoint.module, bundle, request.image_size, str(path))
        handle = _checked(handle, bundle, built_elsewhere=True)
        return handle if weights is None else _weights_into(handle, weights, bundle)
    if weights is not None:
        raise InputFileError(f"{path} is already a checkpoint; --weights is for zoo names and file.py:factory")
    return _recorded_size_kept(
        _checked(_load_described_checkpoint(path, checkpoint, bundle), bundle), request.image_size
    )


@register_model_source("file-factory", matches=is_file_factory)
def _file_factory(request: LoadRequest) -> ModelHandle:
    spec, bundle, weights = request.spec, request.bundle, request.weights
    if is_pretrained_request(weights):
        torchvision_weights(spec, str(weights))  # refused in words
    handle = _fitted(_checked(_load_file_factory(spec, bundle, request.image_size), bundle), request.fit)
    return handle if weights in (None, RANDOM_WEIGHTS) else _weights_into(handle, weights, bundle)


@register_model_source("onnx", matches=lambda spec: spec.endswith(".onnx"))
def _onnx_file(request: LoadRequest) -> ModelHandle:
    from compressor.models.onnx_file import read_onnx_handle

    spec, bundle = request.spec, request.bundle
    if request.weights is not None:
        raise InputFileError("--weights applies to torch models; an .onnx file carries its own weights")
    handle = read_onnx_handle(spec, request.image_size or data_size(bundle))
    if "dynamic_size" in handle.metadata and bundle.files_vary and request.image_size is None:
        raise InputFileError(
            f"{spec} takes images of any size and those in {bundle.name} have several sizes; pass --image-size H,W "
            "(the size it was trained at)"
        )
    handle = _recorded_size_kept(check_task_fits(handle, bundle), request.image_size)
    if handle.task in ("classification", "text"):  # scored by output index: one output per class
        _check_classes(handle.class_names, bundle, spec)
    _warn_of_assumptions(handle, bundle)
    return handle if "input_spec" in handle.metadata else _fitted(handle, request.fit)  # ours records it


@register_model_source("openvino-ir", matches=lambda spec: spec.endswith(".xml"))
def _openvino_ir(request: LoadRequest) -> ModelHandle:
    from compressor.models.openvino_ir import read_openvino_ir

    if request.weights is not None:
        raise InputFileError("--weights applies to torch models; an OpenVINO IR carries its own weights")
    handle = read_openvino_ir(request.spec)
    if request.image_size is not None and tuple(request.image_size) != handle.input_spec.image_size:
        raise OptionError(
            f"{request.spec} was written for {image_size_text(handle.input_spec.image_size)} inputs; "
            f"--image-size {image_size_text(request.image_size)} does not apply"
        )
    return check_task_fits(handle, request.bundle)
