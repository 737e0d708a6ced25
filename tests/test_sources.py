"""Every model source kind resolves to a usable handle, and bad sources fail in words."""

import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torchvision.models import mobilenet_v3_small

from compressor.core.errors import InputFileError, ModelMismatchError, UnknownNameError
from compressor.core.handle import InputSpec
from compressor.data import load_dataset
from compressor.models.catalog import get_entry, list_entries
from compressor.models.checkpoint import read_checkpoint
from compressor.models.loading import load_model

TORCHVISION_ZOO = ["mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "densenet121", "resnet18", "resnet50"]


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("shapes")


def test_zoo_has_the_reference_families() -> None:
    names = {entry.name for entry in list_entries()}
    assert set(TORCHVISION_ZOO) <= names


@pytest.mark.parametrize("name", TORCHVISION_ZOO)
def test_zoo_models_build_with_dataset_classes(name: str, shapes) -> None:
    handle = load_model(name, shapes, weights="random")
    assert handle.input_spec.shape == (3, 64, 64)  # the data's own size wins over the ImageNet default
    with torch.no_grad():
        logits = handle.module.eval()(torch.randn(2, 3, 64, 64))
    assert logits.shape == (2, shapes.num_classes)


@pytest.mark.parametrize(("side", "final_map"), [(64, 4), (224, 7)])
def test_mobilenet_v3_small_keeps_resolution_on_small_inputs(side: int, final_map: int) -> None:
    """Below 128 px the first block keeps stride 1; the weights keep torchvision's names and shapes."""
    model = get_entry("mobilenet_v3_small").build(10, InputSpec.image((side, side))).eval()
    with torch.no_grad():
        features = model.features(torch.randn(1, 3, side, side))
    assert features.shape[-2:] == (final_map, final_map)
    stock = mobilenet_v3_small(weights=None, num_classes=10).state_dict()
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in stock.items()}


def test_unknown_zoo_name_suggests_close_names(shapes) -> None:
    with pytest.raises(UnknownNameError, match="mobilenet_v2"):
        load_model("mobilenet_v22", shapes, weights="random")


def test_file_factory_imports_the_named_file(tmp_path: Path, shapes) -> None:
    model_file = tmp_path / "my_net.py"
    model_file.write_text(
        "import torch.nn as nn\n"
        "def build(num_classes):\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),\n"
        "                         nn.Linear(4, num_classes))\n"
    )
    handle = load_model(f"{model_file}:build", shapes, weights="random")
    assert handle.num_classes == 10
    assert handle.module(torch.randn(1, 3, 64, 64)).shape == (1, 10)
    with pytest.raises(UnknownNameError, match="no callable 'missing'"):
        load_model(f"{model_file}:missing", shapes, weights="random")


def test_train_checkpoint_reloads_by_path(trained_tiny: Path, shapes) -> None:
    handle = load_model(str(trained_tiny), shapes)
    assert handle.name == "tiny_cnn" and handle.class_names == list(shapes.class_names)
    assert handle.metadata["train"]["epochs"] == 2
    payload = torch.load(trained_tiny, weights_only=True)  # readable without unpickling code
    assert payload["format"] == "compressor.checkpoint/1"


def test_plain_state_dict_as_weights(tmp_path: Path, trained_tiny: Path, shapes) -> None:
    state = read_checkpoint(trained_tiny).state_dict
    pt_file, st_file = tmp_path / "plain.pth", tmp_path / "plain.safetensors"
    torch.save(state, pt_file)
    save_file(state, str(st_file))
    for weights in (pt_file, st_file):
        handle = load_model("tiny_cnn", shapes, weights=str(weights))
        for key, value in state.items():
            assert torch.equal(handle.module.state_dict()[key], value)


def test_plain_state_dict_alone_asks_for_an_architecture(tmp_path: Path, trained_tiny: Path, shapes) -> None:
    plain = tmp_path / "plain.pt"
    torch.save(read_checkpoint(trained_tiny).state_dict, plain)
    with pytest.raises(InputFileError, match="--weights"):
        load_model(str(plain), shapes)


def test_checkpoint_of_another_architecture_names_the_shape(trained_tiny: Path, shapes) -> None:
    with pytest.raises(ModelMismatchError, match="missing keys"):
        load_model("resnet18", shapes, weights=str(trained_tiny))


def test_checkpoint_with_other_class_count_names_the_tensor(tmp_path: Path, shapes) -> None:
    other = get_entry("tiny_cnn").build(num_classes=3).state_dict()
    path = tmp_path / "three.pt"
    torch.save(other, path)
    with pytest.raises(ModelMismatchError, match=r"has shape \(3, 64\)"):
        load_model("tiny_cnn", shapes, weights=str(path))


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_that_runs_code_is_refused(tmp_path: Path, shapes) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _RunsCode()}, path)
    with pytest.raises(InputFileError, match="pickled Python objects"):
        load_model("tiny_cnn", shapes, weights=str(path))


@pytest.mark.parametrize("suffix", [".pt", ".safetensors", ".onnx"])
def test_corrupt_files_give_a_clear_error(tmp_path: Path, suffix: str, shapes) -> None:
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(InputFileError, match="broken"):
        if suffix == ".onnx":
            load_model(str(path), shapes)
        else:
            load_model("tiny_cnn", shapes, weights=str(path))


def test_truncated_checkpoint(tmp_path: Path, trained_tiny: Path, shapes) -> None:
    path = tmp_path / "cut.pt"
    path.write_bytes(trained_tiny.read_bytes()[:200])
    with pytest.raises(InputFileError, match="not a readable torch checkpoint"):
        load_model(str(path), shapes)


def test_missing_file(shapes) -> None:
    with pytest.raises(InputFileError, match="not found"):
        load_model("nowhere/model.pt", shapes)
    with pytest.raises(InputFileError, match="not found"):
        load_model("tiny_cnn", shapes, weights="nowhere.pt")


def test_pickle_module_refused_even_if_only_module(tmp_path: Path, shapes) -> None:
    path = tmp_path / "module.pt"
    with open(path, "wb") as handle:
        pickle.dump(get_entry("tiny_cnn").build(num_classes=10), handle)
    with pytest.raises(InputFileError):
        load_model(str(path), shapes)


def test_train_writes_safetensors_that_reload_by_path(tmp_path: Path, image_folder: Path) -> None:
    from compressor import commands

    bundle = load_dataset(str(image_folder))
    out = tmp_path / "tiny.safetensors"
    commands.train("tiny_cnn", out, data=str(image_folder), epochs=1, image_size=(32, 32))
    handle = load_model(str(out), bundle)
    assert handle.input_spec.shape == (3, 32, 32) and handle.class_names == bundle.class_names
    written = out.read_bytes()
    with pytest.raises(InputFileError, match="already exists; pass --force"):  # hours of training, maybe
        commands.train("tiny_cnn", out, data=str(image_folder), epochs=1, image_size=(32, 32))
    assert out.read_bytes() == written
    commands.train("tiny_cnn", out, data=str(image_folder), epochs=2, image_size=(32, 32), force=True)
    assert read_checkpoint(out).description["train"]["epochs"] == 2


def test_training_is_seeded(tmp_path: Path, image_folder: Path) -> None:
    from compressor import commands
    from compressor.training.fit import TrainConfig

    states = []
    for run in range(2):
        handle, _ = commands.train(
            "tiny_cnn",
            tmp_path / f"run{run}.pt",
            data=str(image_folder),
            epochs=1,
            image_size=(32, 32),
            config=TrainConfig(seed=7),
        )
        states.append(handle.module.state_dict())
    assert all(torch.equal(states[0][key], states[1][key]) for key in states[0])


def test_a_registered_model_source_is_tried_before_the_built_in_ones(
    monkeypatch: pytest.MonkeyPatch, cli, tmp_path: Path
) -> None:  # noqa: ANN001
    """A new kind of model spec is one registration: here `alias:NAME`, any model under another name."""
    import json

    import compressor
    from compressor.cli import app
    from compressor.models import loading

    monkeypatch.setattr(loading, "_SOURCES", list(loading._SOURCES))  # the test's source goes with it
    assert [source.name for source in loading.model_sources()] == [
        "openvino-ir", "onnx", "file-factory", "checkpoint", "huggingface", "zoo",
    ]  # fmt: skip

    @compressor.register_model_source("alias", matches=lambda spec: spec.startswith("alias:"))
    def aliased(request: loading.LoadRequest) -> loading.ModelHandle:
        return loading.load_model(request.spec.removeprefix("alias:"), request.bundle, request.weights)

    assert loading.model_sources()[0].name == "alias"
    report = tmp_path / "r.json"
    args = ["bench", "alias:tiny_cnn", "--weights", "random", "--backend", "onnxruntime", "--batch-sizes", "1"]
    result = cli.invoke(app, [*args, "--max-samples", "32", "--json", str(report)])
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["results"][0]["params"] > 0
