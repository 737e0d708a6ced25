"""ONNX export: checked, dynamic batch, parity within 1e-4, metadata enough to reload it alone."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from compressor import commands
from compressor.core.errors import ExportError, InputFileError
from compressor.core.handle import InputSpec, ModelHandle
from compressor.data import load_dataset
from compressor.exporters.onnx import DEFAULT_OPSET, export_onnx
from compressor.models.loading import load_model
from compressor.models.onnx_file import read_onnx_handle


@pytest.mark.parametrize("model", ["tiny_cnn", "mobilenet_v2"])
def test_export_runs_at_any_batch_size_with_parity(tmp_path: Path, model: str) -> None:
    out = tmp_path / f"{model}.onnx"
    _, parity = commands.export(model, out, weights="random")
    assert parity.max_abs_diff <= 1e-4 and parity.agreement == 1.0
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    model_proto = onnx.load(str(out))
    assert DEFAULT_OPSET == 18  # what the docs promise; a lower default would quietly pass an opset >= 17 check
    assert max(op.version for op in model_proto.opset_import if op.domain in ("", "ai.onnx")) == DEFAULT_OPSET
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    reference = load_model(model, load_dataset("shapes"), weights="random").module.eval()  # same seeded weights
    for batch in (1, 3, 7):
        x = torch.randn(batch, 3, 64, 64)
        (logits,) = session.run(None, {"input": x.numpy()})
        assert logits.shape == (batch, 10)
        np.testing.assert_allclose(logits, reference(x).detach().numpy(), atol=1e-4)


def test_an_existing_file_is_replaced_only_with_force(tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    out.write_text("an earlier export")
    with pytest.raises(InputFileError, match="already exists; pass --force"):
        commands.export("tiny_cnn", out, weights="random")
    assert out.read_text() == "an earlier export"
    commands.export("tiny_cnn", out, weights="random", force=True)
    assert read_onnx_handle(out).kind == "onnx"


def test_metadata_records_parity_and_input_spec(tmp_path: Path, trained_tiny: Path) -> None:
    out = tmp_path / "tiny.onnx"
    commands.export(str(trained_tiny), out)
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    meta = json.loads(props["compressor"])
    assert meta["parity"]["max_abs_diff"] <= 1e-4
    assert meta["input_spec"]["shape"] == [3, 64, 64]
    handle = read_onnx_handle(out)
    assert handle.kind == "onnx" and handle.class_names == load_dataset("shapes").class_names


def test_failing_export_names_the_operator(tmp_path: Path) -> None:
    class Unexportable(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.linalg.eigvals(x[:, 0, :4, :4]).abs().sum(-1).view(-1, 1).repeat(1, 10)

    handle = ModelHandle(
        name="bad",
        task="classification",
        input_spec=InputSpec((3, 8, 8)),
        class_names=[str(i) for i in range(10)],
        module=Unexportable(),
    )
    out = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="eig"):
        export_onnx(handle, out)
    assert not out.exists() and not list(tmp_path.iterdir())  # no half-written file left behind


def test_foreign_onnx_without_metadata_loads_from_its_graph(tmp_path: Path) -> None:
    shapes = load_dataset("shapes")
    module = load_model("tiny_cnn", shapes, weights="random").module.eval()
    out = tmp_path / "plain.onnx"
    torch.onnx.export(
        module, (torch.randn(1, 3, 64, 64),), str(out), dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "n"}}
    )
    handle = read_onnx_handle(out)
    assert handle.input_spec.shape == (3, 64, 64) and handle.num_classes == 10


def test_an_identical_model_is_exported_once_per_process(tmp_path: Path, monkeypatch) -> None:
    """The second export of the same weights copies the first file; changed weights export again."""
    from compressor.exporters import onnx as onnx_export
    from compressor.exporters.export_cache import ExportCache

    monkeypatch.setattr(onnx_export, "_EXPORTS", ExportCache())
    calls = []
    real = onnx_export._run_exporter
    monkeypatch.setattr(onnx_export, "_run_exporter", lambda *args: calls.append(1) or real(*args))
    handle = load_model("tiny_cnn", load_dataset("shapes"), weights="random")
    first, _ = export_onnx(handle, tmp_path / "a.onnx")
    second, parity = export_onnx(handle, tmp_path / "b.onnx")
    assert len(calls) == 1 and parity.max_abs_diff <= 1e-4
    assert onnx.load(str(first.onnx_path)).graph == onnx.load(str(second.onnx_path)).graph
    with torch.no_grad():
        handle.module[-1].bias += 1.0
    _, parity = export_onnx(handle, tmp_path / "c.onnx")
    assert len(calls) == 2 and parity.max_abs_diff <= 1e-4  # new weights, new graph: parity still holds
