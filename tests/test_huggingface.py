"""Hugging Face sequence classifiers from a local `save_pretrained` directory: load, bench, export.

The model is a tiny BERT built from a config and the tokenizer a word-level one built here: nothing
is downloaded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from compressor import commands
from compressor.core.errors import DataError, InputFileError, MissingDependencyError, ModelMismatchError, OptionError
from compressor.data import load_dataset
from compressor.data.text import hf_tokenizer
from compressor.data.topics import TOPICS, make_split
from compressor.measurement.variants import Variant, measure_variants
from compressor.methods.channel_pruning import prune_structured
from compressor.methods.configs import Distill, Prune
from compressor.methods.prune import prune_model, save_pruned
from compressor.methods.quantize import Int8Request
from compressor.models.loading import load_model
from compressor.tasks import get_task
from compressor.training.fit import TrainConfig

transformers = pytest.importorskip("transformers")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from tiny_bert import build_tiny_bert  # noqa: E402


@pytest.fixture(scope="module")
def text_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hf-data")
    names = list(TOPICS)
    for split, size in (("train", 160), ("val", 48)):
        texts, labels = make_split(split, size, seed=11)
        rows = [json.dumps({"text": t, "label": names[y]}) for t, y in zip(texts, labels, strict=True)]
        (root / f"{split}.jsonl").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory, text_data: Path) -> Path:
    texts = [json.loads(line)["text"] for line in (text_data / "train.jsonl").read_text().splitlines()]
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), texts, len(TOPICS))


def test_loads_with_its_tokenizer_and_benches_on_both_backends(bert_dir: Path, text_data: Path) -> None:
    handle = load_model(str(bert_dir), load_dataset(str(text_data)))
    assert handle.task == "text" and handle.input_spec.tokenizer == str(bert_dir)
    assert handle.input_spec.shape == (64,) and handle.num_classes == len(TOPICS)
    report = commands.bench(str(bert_dir), data=str(text_data), batch_sizes=[2])
    accuracy = {row.backend: row.metrics["accuracy"] for row in report.results}
    assert set(accuracy) == {"torch", "onnxruntime"}
    assert accuracy["torch"] == accuracy["onnxruntime"]  # untrained: the same predictions, whatever they score


def test_export_has_dynamic_batch_and_sequence(bert_dir: Path, text_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "bert.onnx"
    handle, parity = commands.export(str(bert_dir), out, data=str(text_data))
    assert parity.max_abs_diff <= 1e-4 and parity.agreement == 1.0
    module = load_model(str(bert_dir), load_dataset(str(text_data))).module.eval()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for batch, length in ((1, 7), (4, 7), (4, 19)):
        ids, mask = get_task("text").example_inputs(handle.input_spec, batch)
        ids, mask = ids[:, :length], mask[:, :length].clone()
        mask[-1, 3:] = 0
        (logits,) = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        with torch.no_grad():
            np.testing.assert_allclose(logits, module(ids, mask).numpy(), atol=1e-4)


def test_quantizes_to_dynamic_int8_and_profiles_both_files(bert_dir: Path, text_data: Path, tmp_path: Path) -> None:
    request = Int8Request(tune_speed=False)
    report = commands.quantize(
        str(bert_dir), tmp_path / "q", "int8", data=str(text_data), int8=request, batch_sizes=[1]
    )
    summary = report.quantization  # type: ignore[attr-defined]
    assert summary["method"] == "dynamic" and summary["int8_nodes"] > 0
    assert {row.variant for row in report.results} == {"baseline", "int8"}
    assert "MatMul" in summary["op_time_ms"]["baseline"]
    assert {"DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulInteger"} & set(summary["op_time_ms"]["int8"])


def test_wrong_directory_and_label_count_are_refused(bert_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no config.json"):
        load_model(str(tmp_path), load_dataset("topics"))
    rows = [json.dumps({"text": t, "label": y % 3}) for t, y in zip(*make_split("val", 60, seed=1), strict=True)]
    (tmp_path / "three.jsonl").write_text("\n".join(rows) + "\n")
    with pytest.raises(ModelMismatchError, match="predicts 8 labels"):
        load_model(str(bert_dir), load_dataset(str(tmp_path / "three.jsonl")))


def test_missing_transformers_names_the_extra(bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` fail
    with pytest.raises(MissingDependencyError, match=r"compressor\[transformers\]"):
        load_model(str(bert_dir), load_dataset("topics"))


@pytest.fixture(scope="module")
def unlabelled_texts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, _ = make_split("val", 120, seed=5)
    path = tmp_path_factory.mktemp("unlabelled") / "texts.jsonl"
    path.write_text("\n".join(json.dumps({"text": text}) for text in texts) + "\n")
    return path


@pytest.fixture(scope="module")
def embedder_dir(tmp_path_factory: pytest.TempPathFactory, bert_dir: Path) -> Path:
    """A bare BertModel (no classifier) with [CLS] pooling recorded the sentence-transformers way."""
    directory = tmp_path_factory.mktemp("tiny-embedder")
    hf_tokenizer.__wrapped__(str(bert_dir)).save_pretrained(directory)
    config = transformers.BertConfig.from_pretrained(bert_dir)
    torch.manual_seed(1)
    transformers.BertModel(config).eval().save_pretrained(directory)
    (directory / "1_Pooling").mkdir()
    (directory / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    return directory


def test_embedding_model_is_scored_by_cosine_without_labels(embedder_dir: Path, unlabelled_texts: Path) -> None:
    handle = load_model(str(embedder_dir), load_dataset(str(unlabelled_texts)))
    assert handle.task == "embedding" and handle.module.pooling == "cls"
    report = commands.bench(str(embedder_dir), data=str(unlabelled_texts), batch_sizes=[2])
    assert report.primary_metric == "cosine"
    cosine = {row.backend: row.metrics["cosine"] for row in report.results}
    assert set(cosine) == {"torch", "onnxruntime"}
    assert all(0.9999 <= value <= 1.0001 for value in cosine.values())


def test_cosine_falls_when_the_embeddings_change(embedder_dir: Path, unlabelled_texts: Path) -> None:
    bundle = load_dataset(str(unlabelled_texts))
    baseline = load_model(str(embedder_dir), bundle)
    perturbed = load_model(str(embedder_dir), bundle)
    with torch.no_grad():
        for parameter in perturbed.module.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.5 * parameter.std().nan_to_num())
    variants = [Variant("baseline", "fp32", {"torch": baseline}), Variant("noisy", "fp32", {"torch": perturbed})]
    rows, samples = measure_variants(variants, bundle, ["torch"], "cpu", [1])
    cosine = {row.variant: row.metrics["cosine"] for row in rows}
    assert samples == len(bundle.split("val", baseline.input_spec))
    assert cosine["baseline"] == pytest.approx(1.0, abs=1e-5)
    assert 0.0 < cosine["noisy"] < 0.99


def test_embedding_model_exports_with_parity(embedder_dir: Path, unlabelled_texts: Path, tmp_path: Path) -> None:
    handle, parity = commands.export(str(embedder_dir), tmp_path / "embedder.onnx", data=str(unlabelled_texts))
    assert handle.task == "embedding"
    assert parity.max_abs_diff <= 1e-4 and parity.agreement == 1.0
    assert [o.name for o in ort.InferenceSession(str(tmp_path / "embedder.onnx")).get_outputs()] == ["embeddings"]


def test_classifier_needs_labels_and_labels_are_all_or_nothing(
    bert_dir: Path, unlabelled_texts: Path, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match="no 'label' field"):
        load_model(str(bert_dir), load_dataset(str(unlabelled_texts)))
    half = tmp_path / "half.jsonl"
    half.write_text(json.dumps({"text": "a b c", "label": "x"}) + "\n" + json.dumps({"text": "d e f"}) + "\n")
    with pytest.raises(DataError, match="row 2 has no 'label'"):
        load_dataset(str(half))


@pytest.fixture(scope="module")
def small_embedder_dir(tmp_path_factory: pytest.TempPathFactory, embedder_dir: Path) -> Path:
    """A one-layer student for the two-layer embedder: same width and tokenizer, its own random weights."""
    directory = tmp_path_factory.mktemp("tiny-embedder-student")
    for item in ("1_Pooling",):
        (directory / item).mkdir()
        (directory / item / "config.json").write_text((embedder_dir / item / "config.json").read_text())
    hf_tokenizer.__wrapped__(str(embedder_dir)).save_pretrained(directory)
    config = transformers.BertConfig.from_pretrained(embedder_dir)
    config.num_hidden_layers = 1
    torch.manual_seed(2)
    transformers.BertModel(config).eval().save_pretrained(directory)
    return directory


def test_embedding_student_is_distilled_by_cosine(
    embedder_dir: Path, small_embedder_dir: Path, text_data: Path, tmp_path: Path
) -> None:
    """An embedding teacher needs no labels: the student learns to point where the teacher points."""
    bundle = load_dataset(str(text_data))
    teacher = load_model(str(embedder_dir), bundle)
    before_rows, _ = measure_variants(
        [
            Variant("teacher", "fp32", {"torch": teacher}),
            Variant("student", "fp32", {"torch": load_model(str(small_embedder_dir), bundle)}),
        ],
        bundle,
        ["torch"],
        "cpu",
        [4],
    )
    before = {row.variant: row.metrics["cosine"] for row in before_rows}["student"]
    out = tmp_path / "out"
    teacher = Distill(teacher=str(embedder_dir), epochs=3, lr=1e-3)
    report = commands.distill(str(small_embedder_dir), out, teacher, data=str(text_data), batch_sizes=[4])
    cosine = {(row.variant, row.backend): row.metrics["cosine"] for row in report.results}
    assert report.distillation["objective"] == "embedding"
    assert cosine[("distilled", "torch")] > before + 0.05
    assert cosine[("distilled", "onnxruntime")] == pytest.approx(cosine[("distilled", "torch")], abs=1e-3)
    reloaded = load_model(str(out / "distilled"), bundle)  # a model directory like the student's own
    assert reloaded.task == "embedding" and (out / "distilled" / "compressor.json").is_file()
    with pytest.raises(OptionError, match="no labels"):
        config = Distill(teacher=str(embedder_dir), compare_scratch=True)
        commands.distill(str(small_embedder_dir), tmp_path / "x", config, data=str(text_data))


def test_a_text_student_must_read_the_teachers_token_ids(bert_dir: Path, text_data: Path, tmp_path: Path) -> None:
    """BERT's token ids mean nothing to text_transformer's own vocabulary; the advice was --image-size."""
    with pytest.raises(ModelMismatchError, match="a text student needs the teacher's tokenizer and length"):
        commands.distill(
            "text_transformer", tmp_path / "out", Distill(teacher=str(bert_dir), epochs=1), data=str(text_data)
        )
    assert not (tmp_path / "out").exists()


def _self_attentions(module: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in module.modules() if type(m).__name__ == "BertSelfAttention"]


def test_bert_attention_loses_the_same_channels_in_every_head(bert_dir: Path, text_data: Path) -> None:
    """Channels whose weights are zero are removed from each head alike, so the outputs stay exactly the
    same: before, BERT's query/key/value lost the weakest of the whole width and its forward split what
    was left into heads of the old size (2 heads of 16 -> 28 channels: a reshape error)."""
    handle = load_model(str(bert_dir), load_dataset(str(text_data)))
    module = handle.module.eval()
    example = get_task("text").example_inputs(handle.input_spec, 3)
    for attention in _self_attentions(module):  # 2 heads of 16: the last 2 channels of each head carry nothing
        with torch.no_grad():
            for projection in (attention.query, attention.key, attention.value):
                projection.weight[[14, 15, 30, 31]] = 0.0
                projection.bias[[14, 15, 30, 31]] = 0.0
        attention.scaling = 14**-0.5  # what pruning sets for heads of 14: the outputs must then stay the same
    with torch.no_grad():
        expected = module(*example)
    ignored = [m for name, m in module.named_modules() if isinstance(m, torch.nn.Linear) and ".attention." not in name]
    prune_structured(module, example, Prune(sparsity=0.125, round_to=2), ignored, lambda step: None)
    for attention in _self_attentions(module):
        assert attention.query.out_features == attention.value.out_features == attention.all_head_size == 28
        assert (attention.num_attention_heads, attention.attention_head_size, attention.scaling) == (2, 14, 14**-0.5)
    with torch.no_grad():
        torch.testing.assert_close(module(*example), expected, atol=1e-5, rtol=1e-5)


def test_whole_heads_go_and_the_head_size_stays(bert_dir: Path, text_data: Path, tmp_path: Path) -> None:
    """Head 1 of every layer carries nothing (its query/key/value rows and its output columns are zero):
    --whole-heads removes it and the outputs stay exactly the same; the model directory reloads as 1 head."""
    bundle = load_dataset(str(text_data))
    handle = load_model(str(bert_dir), bundle)
    for attention in _self_attentions(handle.module):  # 2 heads of 16
        layer = next(m for m in handle.module.modules() if getattr(m, "self", None) is attention)
        with torch.no_grad():
            for projection in (attention.query, attention.key, attention.value):
                projection.weight[16:] = 0.0
                projection.bias[16:] = 0.0
            layer.output.dense.weight[:, 16:] = 0.0
    example = get_task("text").example_inputs(handle.input_spec, 3)
    with torch.no_grad():
        expected = handle.module.eval()(*example)
    attention_only = ("model.bert.pooler", *(f"model.bert.encoder.layer.{i}.intermediate" for i in range(2)))
    request = Prune(sparsity=0.5, whole_heads=True, ignore=attention_only)
    pruned, outcome = prune_model(handle, bundle, request, TrainConfig())
    for attention in _self_attentions(pruned.module):
        assert attention.query.out_features == attention.value.out_features == attention.all_head_size == 16
        assert (attention.num_attention_heads, attention.attention_head_size, attention.scaling) == (1, 16, 16**-0.5)
    assert outcome.summary()["whole_heads"] is True
    assert outcome.summary()["attention_heads"] == {
        f"model.bert.encoder.layer.{i}.attention.self": {"heads": [2, 1], "head_size": [16, 16]} for i in range(2)
    }
    with torch.no_grad():
        torch.testing.assert_close(pruned.module.eval()(*example), expected, atol=1e-5, rtol=1e-5)
        reloaded = load_model(str(save_pruned(pruned, tmp_path / "heads.pt").source), bundle)
        assert [a.num_attention_heads for a in _self_attentions(reloaded.module)] == [1, 1]
        torch.testing.assert_close(reloaded.module.eval()(*example), expected, atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def distilbert_dir(tmp_path_factory: pytest.TempPathFactory, text_data: Path) -> Path:
    texts = [json.loads(line)["text"] for line in (text_data / "train.jsonl").read_text().splitlines()]
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-distilbert"), texts, len(TOPICS), family="distilbert")


@pytest.mark.parametrize(("whole_heads", "heads"), [(False, (2, 8)), (True, (1, 16))])
def test_distilbert_attention_loses_channels_per_head_or_whole_heads(
    distilbert_dir: Path, text_data: Path, tmp_path: Path, whole_heads: bool, heads: tuple[int, int]
) -> None:
    """DistilBERT names its attention q_lin/k_lin/v_lin and n_heads: it was left whole before."""
    bundle = load_dataset(str(text_data))
    request = Prune(sparsity=0.5, round_to=2, whole_heads=whole_heads)
    pruned, outcome = prune_model(load_model(str(distilbert_dir), bundle), bundle, request, TrainConfig())
    reloaded = load_model(str(save_pruned(pruned, tmp_path / "p.pt").source), bundle)
    attentions = [m for m in reloaded.module.modules() if type(m).__name__ == "DistilBertSelfAttention"]
    assert [(a.n_heads, a.attention_head_size, a.scaling) for a in attentions] == [(*heads, heads[1] ** -0.5)] * 2
    assert all(a.q_lin.out_features == a.v_lin.out_features == a.out_lin.in_features == 16 for a in attentions)
    assert len(outcome.attention_heads) == 2
    ids, mask = get_task("text").example_inputs(pruned.input_spec, 2)
    with torch.no_grad():
        torch.testing.assert_close(reloaded.module.eval()(ids, mask), pruned.module.eval()(ids, mask))


def test_a_pruned_classifier_is_a_model_directory_that_reloads(bert_dir: Path, text_data: Path, tmp_path: Path) -> None:
    bundle = load_dataset(str(text_data))
    commands.prune(str(bert_dir), tmp_path / "p", Prune(sparsity=0.4, round_to=4), data=str(text_data), batch_sizes=[2])
    pruned = load_model(str(tmp_path / "p" / "model.pruned"), bundle)  # config, tokenizer and weights beside
    ids, mask = get_task("text").example_inputs(pruned.input_spec, 2)
    session = ort.InferenceSession(str(tmp_path / "p" / "model.pruned.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(logits, pruned.module.eval()(ids, mask).numpy(), atol=1e-4)
    # Pruned again with the attention left alone: the first run's head size must survive in the record.
    attention = tuple(f"model.bert.encoder.layer.{i}.attention" for i in range(2))
    again, _ = prune_model(pruned, bundle, Prune(sparsity=0.5, round_to=4, ignore=attention), TrainConfig())
    reloaded = load_model(str(save_pruned(again, tmp_path / "twice.pt").source), bundle)
    assert [a.attention_head_size for a in _self_attentions(reloaded.module)] == [10, 10]
    with torch.no_grad():
        torch.testing.assert_close(reloaded.module.eval()(ids, mask), again.module(ids, mask))
