"""`compress prune` on tiny models: consistent channel removal, threshold vs sparsity, ignored layers,
exact unstructured sparsity and 2:4, the pickle-free reload, the sweep, the distillation loss, errors."""

from __future__ import annotations

import copy
import json
import math
import sys
from pathlib import Path

import onnxruntime as ort
import pytest
import torch
import torch_pruning as tp
from torch import nn

from compressor import commands
from compressor.cli import app
from compressor.commands import train_config
from compressor.commands.pruning import untuned_losses
from compressor.core.errors import ModelMismatchError, OptionError
from compressor.data import load_dataset
from compressor.methods.channel_pruning import prune_structured, same_in_every_group, weakest_channels, weakest_heads
from compressor.methods.configs import Prune
from compressor.methods.memory_ceiling import memory_ceiling
from compressor.methods.prune import prune_model, save_pruned
from compressor.methods.prune_options import ignored_modules
from compressor.methods.weight_pruning import unstructured_masks
from compressor.models.checkpoint import read_checkpoint
from compressor.models.loading import load_model
from compressor.models.zoo import tiny_cnn
from compressor.report.schema import ResultRow
from compressor.training import fit as train
from compressor.training.distillation import Teacher, hinton_loss

FAST = {"batch_sizes": [1], "max_samples": 100}


def _tiny() -> nn.Module:
    torch.manual_seed(0)
    return tiny_cnn(10).eval()


def _structured(module: nn.Module, **options: object) -> nn.Module:
    request = Prune(**{"round_to": 1, **options})  # type: ignore[arg-type]
    example = [torch.randn(1, 3, 32, 32)]
    prune_structured(module, example, request, ignored_modules(module, 10, request.ignore), lambda step: None)
    return module


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def test_structured_channels_shrink_consistently_and_outputs_keep_their_shape() -> None:
    module = _structured(_tiny(), sparsity=0.5)
    layers = list(module)
    for conv, norm in zip(layers[:-3], layers[1:-3], strict=False):
        if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
            assert norm.num_features == conv.out_channels == norm.weight.shape[0]
    depthwise = [c for c in _convs(module) if c.groups > 1]
    assert all(c.groups == c.in_channels == c.out_channels for c in depthwise)  # coupled with the layer before
    assert layers[-1].in_features == 32 and layers[-1].out_features == 10  # 64 -> 32 inputs; the classes kept
    assert module(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def _grouped() -> nn.Module:
    """A ResNeXt-like stack: a grouped 3x3 convolution (4 groups of 8) between GroupNorms."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, 2, 1), nn.GroupNorm(4, 32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, 1, 1, groups=4), nn.GroupNorm(4, 32), nn.ReLU(),
        nn.Conv2d(32, 64, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    ).eval()  # fmt: skip


@pytest.mark.parametrize("options", [{"sparsity": 0.5}, {"threshold": 1.0}, {"sparsity": 0.5, "round_to": 16}])
def test_grouped_convolutions_lose_the_same_channels_from_every_group(options: dict) -> None:
    """RegNet and ResNeXt stopped with torch-pruning's "INDICES element is out of DATA bounds": a grouped
    convolution's inputs can only lose the same positions in each group."""
    original = _grouped()
    module = _structured(_grouped(), **options)
    first, grouped = module[0], module[3]
    assert first.out_channels < 32 and first.out_channels % 4 == 0 and grouped.groups == 4
    assert grouped.in_channels == first.out_channels == module[1].num_channels
    kept = [_row_of(original[0].weight, row) for row in first.weight]  # the original channels that stayed
    positions = [sorted(i % 8 for i in kept if i // 8 == group) for group in range(4)]  # 4 groups of 8
    assert all(p == positions[0] for p in positions)
    kept_out = [_row_of(original[3].weight[:, positions[0]], row) for row in grouped.weight]
    assert torch.equal(grouped.weight, original[3].weight[kept_out][:, positions[0]])  # each group's own inputs
    assert module(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def _row_of(rows: torch.Tensor, row: torch.Tensor) -> int:
    return int((rows == row).flatten(1).all(dim=1).nonzero())


@pytest.mark.parametrize(
    ("failure", "message"),
    [(ZeroDivisionError("integer division or modulo by zero"), "graph failed"), (MemoryError(), "outgrew")],
)
def test_a_graph_torch_pruning_cannot_map_is_one_line(
    failure: Exception, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ShuffleNet's channel shuffle made torch-pruning's tracer divide by zero (an internal error before), and
    Swin's windows made its map grow until the kernel killed the process: now a MemoryError under a ceiling."""

    def fails(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(tp.DependencyGraph, "build_dependency", fails)
    with pytest.raises(ModelMismatchError, match=f"cannot follow this model's channels: .*{message}.*--unstructured"):
        _structured(_tiny(), sparsity=0.5)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux")
def test_the_memory_ceiling_stops_a_runaway_allocation_and_lifts_after() -> None:
    with pytest.raises(MemoryError), memory_ceiling(256 << 20):
        bytearray(2 << 30)
    assert len(bytearray(512 << 20)) == 512 << 20  # the old limit is back


def test_same_in_every_group_takes_the_positions_weakest_on_average() -> None:
    scores = torch.tensor([5.0, 1.0, 3.0, 4.0, 2.0, 6.0])  # 2 groups of 3: mean by position 4.5, 1.5, 4.5
    assert same_in_every_group(scores, kept=4, groups=2) == [1, 4]


def test_threshold_removes_more_as_it_rises_and_nothing_at_zero() -> None:
    params = [
        sum(p.numel() for p in _structured(_tiny(), threshold=level).parameters())
        for level in (0.0, 0.96, 1.0, 1.04)  # random weights: scores within 8% of the mean
    ]
    assert params[0] == sum(p.numel() for p in _tiny().parameters())
    assert params[0] > params[1] > params[2] > params[3]


def test_sparsity_removes_that_fraction_of_each_layer_and_round_to_keeps_multiples() -> None:
    module = _structured(_tiny(), sparsity=0.25)
    assert [c.out_channels for c in _convs(module)] == [12, 12, 24, 24, 48, 48, 48]  # 16/32/64 less a quarter
    rounded = _structured(_tiny(), sparsity=0.3, round_to=8)
    assert all(c.out_channels % 8 == 0 for c in _convs(rounded))


def test_ignored_layers_are_untouched() -> None:
    module = _structured(_tiny(), sparsity=0.5, ignore=("0",))  # the stem conv and its coupled depthwise
    assert module[0].out_channels == 16 and module[3].out_channels == 16
    assert module[6].out_channels == 16  # 32 halved
    with pytest.raises(Exception, match="did you mean"):
        ignored_modules(_tiny(), 10, ("23x",))


@pytest.mark.parametrize("global_ranking", [False, True])
def test_unstructured_sparsity_is_exact(global_ranking: bool) -> None:
    module = _tiny()
    request = Prune(sparsity=0.8, structured=False, global_ranking=global_ranking)
    masks = unstructured_masks(module, request, ignored_modules(module, 10, ()))
    zeros = sum(int((mask == 0).sum()) for mask in masks.values())
    total = sum(mask.numel() for mask in masks.values())
    assert abs(zeros / total - 0.8) < 0.005
    if not global_ranking:
        assert all(abs(float((m == 0).float().mean()) - 0.8) < 0.5 / m.numel() + 1e-6 for m in masks.values())


def test_two_of_four_keeps_the_two_largest_of_every_four_inputs() -> None:
    module = _tiny()
    masks = unstructured_masks(module, Prune(pattern="2:4", structured=False), [])
    assert masks  # the 1x1 convs and the classifier have inputs in multiples of 4
    for name, mask in masks.items():
        weight = dict(module.named_modules())[name].weight.detach()
        inputs_last = mask.movedim(1, -1).reshape(-1, 4) if mask.dim() > 2 else mask.reshape(-1, 4)
        assert torch.all(inputs_last.sum(dim=1) == 2)
        magnitudes = (weight.movedim(1, -1) if weight.dim() > 2 else weight).abs().reshape(-1, 4)
        kept_min = torch.where(inputs_last == 1, magnitudes, math.inf).min(dim=1).values
        dropped_max = torch.where(inputs_last == 0, magnitudes, -math.inf).max(dim=1).values
        assert torch.all(kept_min >= dropped_max)


def test_prune_writes_a_checkpoint_that_reloads_without_pickle(trained_tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = commands.prune(str(trained_tiny), out, Prune(sparsity=0.5), data="shapes", **FAST)  # type: ignore[arg-type]
    rows = {(r.variant, r.backend): r for r in report.results}
    assert rows[("pruned", "torch")].params < 0.5 * rows[("baseline", "torch")].params
    assert report.model_extra["pruning"]["channels"]  # type: ignore[index]

    checkpoint = read_checkpoint(out / "model.pruned.pt")  # weights_only: tensors and plain values
    assert checkpoint.description is not None and checkpoint.description["architecture_changes"]
    bundle = load_dataset("shapes")
    reloaded = load_model(str(out / "model.pruned.pt"), bundle).module
    assert reloaded is not None
    images = torch.randn(4, 3, 64, 64)
    session = ort.InferenceSession(str(out / "model.pruned.onnx"), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(None, {"input": images.numpy()})
    torch.testing.assert_close(reloaded.eval()(images), torch.from_numpy(onnx_logits), atol=1e-4, rtol=1e-4)
    again = commands.bench(
        str(out / "model.pruned.pt"), data="shapes", backends=["torch"], batch_sizes=[1], max_samples=50
    )
    assert again.results[0].params == rows[("pruned", "torch")].params


def test_unstructured_rows_carry_sparsity_and_compressed_size(trained_tiny: Path, tmp_path: Path) -> None:
    request = Prune(sparsity=0.8, structured=False)
    report = commands.prune(str(trained_tiny), tmp_path / "out", request, data="shapes", **FAST)  # type: ignore[arg-type]
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    pruned = [row for row in saved["results"] if row["variant"] == "pruned"]
    base = next(row for row in saved["results"] if row["variant"] == "baseline" and row["backend"] == "onnxruntime")
    assert all(abs(row["sparsity"] - 0.8) < 0.01 for row in pruned)
    assert all(row["compressed_size_mb"] < base["compressed_size_mb"] for row in pruned)
    assert any("no speed-up" in note for note in report.notes)


def test_sweep_reports_each_level_and_plots(trained_tiny: Path, tmp_path: Path) -> None:
    report = commands.prune(str(trained_tiny), tmp_path / "out", data="shapes", sweep=[0.25, 0.5], **FAST)  # type: ignore[arg-type]
    sweep = report.model_extra["sweep"]  # type: ignore[index]
    assert [level["level"] for level in sweep] == [0.25, 0.5]
    assert sweep[0]["params"] > sweep[1]["params"]
    assert (tmp_path / "out" / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_finetuning_with_distillation_runs(trained_tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fine-tuning loss is the distillation loss against the unpruned model, not the labels alone:
    the flag in the report says only what was asked, so the first step's loss is checked against the
    teacher's term computed here (a run that dropped the teacher would train on cross-entropy)."""
    teacher = Teacher(load_model(str(trained_tiny), load_dataset("shapes")).module.eval())
    first_step: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (loss taken, loss expected, KL term)
    step = train._Run.step

    def watched_step(run: train._Run, inputs: list[torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
        if not first_step:
            with torch.no_grad():  # on a copy: the real step's batch-norm statistics move once, as without us
                student = copy.deepcopy(run.module)(*inputs).float()
                taught = teacher.module(*inputs).float()
            expected = hinton_loss(student, taught, targets, teacher.temperature, teacher.alpha)
            soft_part = expected - (1 - teacher.alpha) * torch.nn.functional.cross_entropy(student, targets)
        loss = step(run, inputs, targets)
        if not first_step:
            first_step.append((loss, expected, soft_part))
        return loss

    monkeypatch.setattr(train._Run, "step", watched_step)
    request = Prune(sparsity=0.5, finetune_epochs=1, distill=True, steps=1)
    report = commands.prune(str(trained_tiny), tmp_path / "out", request, data="shapes", **FAST)  # type: ignore[arg-type]
    assert report.model_extra["pruning"]["distill"] is True  # type: ignore[index]
    ((loss, expected, soft_part),) = first_step
    assert soft_part.item() > 0.01  # the pruned student and its teacher disagree: the teacher's term counts
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)


def test_a_large_loss_without_finetuning_says_what_to_do() -> None:
    def row(variant: str, top1: float, backend: str = "torch") -> ResultRow:
        return ResultRow.model_construct(variant=variant, backend=backend, metrics={"top1": top1})

    rows = [row("baseline", 0.91), row("pruned@0.3", 0.89), row("pruned@0.5", 0.21), row("pruned@0.5", 0.20, "ort")]
    (line,) = untuned_losses(rows, "top1")  # one line for the level that lost 70 points, none for 2 points
    assert line.startswith("pruned@0.5: top1 0.2100, 70.0 points below the baseline's 0.9100")
    assert "--finetune-epochs" in line


def test_hinton_loss_on_known_logits() -> None:
    student = torch.tensor([[2.0, 0.0, -1.0]])
    labels = torch.tensor([0])
    assert hinton_loss(student, student.clone(), labels, 4.0, 1.0).item() == pytest.approx(0.0, abs=1e-7)
    teacher = torch.tensor([[0.0, 1.0, 0.0]])
    t = 2.0
    p_teacher = torch.softmax(teacher / t, dim=-1)
    kl = (p_teacher * (p_teacher.log() - torch.log_softmax(student / t, dim=-1))).sum()
    ce = torch.nn.functional.cross_entropy(student, labels)
    expected = 0.7 * t * t * kl + 0.3 * ce
    assert hinton_loss(student, teacher, labels, t, 0.7).item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--sparsity", "0.5", "--threshold", "0.5"], "exactly one of"),
        (["--sparsity", "1.5"], "fraction in [0, 1)"),
        (["--pattern", "2:4"], "goes with --unstructured"),
        (["--sparsity", "0.5", "--ignore", "nope"], "not a module of the model"),
        (["--sweep", "0.1,x"], "comma-separated numbers"),
        (["--sweep", "0.1,0.2", "--sparsity", "0.5"], "--sweep gives the levels itself"),
    ],
)
def test_errors_are_one_line(cli, trained_tiny: Path, tmp_path: Path, options: list[str], message: str) -> None:  # noqa: ANN001
    result = cli.invoke(app, ["prune", str(trained_tiny), "-o", str(tmp_path / "out"), *options])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "report.json").exists()


def test_detector_backbone_prunes_and_heads_keep_their_outputs() -> None:
    from compressor.tasks import get_task

    handle = load_model("ssdlite320_mobilenet_v3_large", load_dataset("shapes-det"), weights="random")
    module = handle.module
    assert module is not None
    head_outputs = {
        name: m.out_channels for name, m in module.named_modules() if "head" in name and isinstance(m, nn.Conv2d)
    }
    params = sum(p.numel() for p in module.parameters())
    example = get_task(handle.task).example_inputs(handle.input_spec, 1)
    ignored = ignored_modules(module, handle.num_classes, ())
    prune_structured(module.eval(), example, Prune(sparsity=0.3), ignored, lambda step: None)

    assert sum(p.numel() for p in module.parameters()) < 0.8 * params
    assert {name: m.out_channels for name, m in module.named_modules() if name in head_outputs} == head_outputs
    boxes, scores, labels = module(*example)
    assert boxes.shape == (1, 100, 4) and scores.shape == labels.shape == (1, 100)


def test_densenet_prunes_through_its_concatenations_and_reloads_without_pickle(tmp_path: Path) -> None:
    """Each dense layer reads the concatenation of every earlier one: narrowing a layer must narrow the
    inputs of all that follow (torch-pruning's concat dependency), and the result must reload by state_dict."""
    bundle = load_dataset("shapes")
    handle = load_model("densenet121", bundle, weights="random", image_size=(32, 32))
    pruned, _ = prune_model(handle, bundle, Prune(sparsity=0.3), train_config("densenet121"))
    assert handle.module is not None and pruned.module is not None
    assert sum(p.numel() for p in pruned.module.parameters()) < 0.7 * sum(p.numel() for p in handle.module.parameters())
    for name, module in pruned.module.named_modules():
        if isinstance(module, nn.BatchNorm2d):  # norm1 of each dense layer sees the whole concatenation
            assert module.weight.shape[0] == module.num_features == module.running_mean.shape[0], name
    example = torch.randn(2, 3, 32, 32)
    expected = pruned.module(example)
    saved = save_pruned(pruned, tmp_path / "densenet.pruned.pt")
    reloaded = load_model("densenet121", bundle, weights=str(saved.weights), image_size=(32, 32)).module
    assert reloaded is not None and torch.equal(reloaded.eval()(example), expected)


def test_pruned_file_factory_reloads_through_its_factory(tmp_path: Path) -> None:
    source = tmp_path / "net.py"
    source.write_text(
        "from torch import nn\n"
        "def build(num_classes: int = 10) -> nn.Module:\n"
        "    return nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1),\n"
        "                         nn.Flatten(), nn.Linear(16, num_classes))\n"
    )
    factory = f"{source}:build"
    commands.prune(factory, tmp_path / "out", Prune(sparsity=0.5, round_to=1), weights="random", **FAST)  # type: ignore[arg-type]
    pruned = tmp_path / "out" / "model.pruned.pt"
    with pytest.raises(Exception, match="load it with `--weights"):
        load_model(str(pruned), load_dataset("shapes"))
    module = load_model(factory, load_dataset("shapes"), weights=str(pruned)).module
    assert module is not None and module[0].out_channels == 8


def test_steps_reach_the_same_widths_as_one_step_and_call_back_between() -> None:
    calls: list[int] = []
    stepped = _tiny()
    request = Prune(sparsity=0.5, steps=3, round_to=1)
    prune_structured(stepped, [torch.randn(1, 3, 32, 32)], request, ignored_modules(stepped, 10, ()), calls.append)
    assert calls == [1, 2, 3]
    assert [c.out_channels for c in _convs(stepped)] == [
        c.out_channels for c in _convs(_structured(_tiny(), sparsity=0.5))
    ]


def test_residual_width_narrows_every_vit_block_alike_and_reloads(tmp_path: Path) -> None:
    bundle = load_dataset("shapes")
    handle = load_model("vit_tiny", bundle, weights="random", image_size=(32, 32))
    config = train_config("vit_tiny", batch_size=8)  # BatchNorm (in the conv stem) re-estimated on 50 small batches
    narrow_mlp, _ = prune_model(handle, bundle, Prune(sparsity=0.5), config)
    pruned, outcome = prune_model(handle, bundle, Prune(sparsity=0.5, residual_width=True), config)
    attentions = [m for m in pruned.module.modules() if isinstance(m, nn.MultiheadAttention)]  # type: ignore[union-attr]
    assert {m.embed_dim for m in narrow_mlp.module.modules() if isinstance(m, nn.MultiheadAttention)} == {192}  # type: ignore[union-attr]
    assert len(attentions) == 4 and all((m.embed_dim, m.num_heads, m.head_dim) == (96, 3, 32) for m in attentions)
    assert pruned.module.hidden_dim == pruned.module.class_token.shape[-1] == 96  # type: ignore[union-attr]
    assert outcome.summary()["residual_width"] is True
    assert outcome.summary()["attention_heads"]["encoder.layers.encoder_layer_0.self_attention"] == {
        "heads": [3, 3],
        "head_size": [64, 32],
    }
    example = torch.randn(2, 3, 32, 32)
    expected = pruned.module.eval()(example)  # type: ignore[union-attr]
    saved = save_pruned(pruned, tmp_path / "vit.pruned.pt")
    reloaded = load_model(str(saved.weights), bundle).module
    assert reloaded is not None and torch.equal(reloaded.eval()(example), expected)


def test_residual_width_with_whole_heads_drops_heads_of_torch_attention_and_reloads(tmp_path: Path) -> None:
    """nn.MultiheadAttention's heads are blocks of the residual width: half of 3 heads of 64 keeps 2 whole
    heads (rounded up), so the width goes 192 -> 128 and the head size stays."""
    bundle = load_dataset("shapes")
    handle = load_model("vit_tiny", bundle, weights="random", image_size=(32, 32))
    request = Prune(sparsity=0.5, residual_width=True, whole_heads=True)
    pruned, outcome = prune_model(handle, bundle, request, train_config("vit_tiny", batch_size=8))
    attentions = [m for m in pruned.module.modules() if isinstance(m, nn.MultiheadAttention)]  # type: ignore[union-attr]
    assert len(attentions) == 4 and all((m.embed_dim, m.num_heads, m.head_dim) == (128, 2, 64) for m in attentions)
    assert outcome.summary()["attention_heads"]["encoder.layers.encoder_layer_0.self_attention"] == {
        "heads": [3, 2],
        "head_size": [64, 64],
    }
    example = torch.randn(2, 3, 32, 32)
    expected = pruned.module.eval()(example)  # type: ignore[union-attr]
    reloaded = load_model(str(save_pruned(pruned, tmp_path / "vit.pruned.pt").weights), bundle).module
    assert reloaded is not None and torch.equal(reloaded.eval()(example), expected)


def test_residual_width_takes_as_many_channels_from_each_head() -> None:
    scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 5.0, 6.0, 7.0, 8.0, 9.0, 9.5, 9.6, 9.7])  # head 0 is the weakest
    assert weakest_channels(scores, kept=6, heads=3) == [0, 1, 4, 5, 8, 9]
    assert weakest_channels(scores, kept=6, heads=1) == [0, 1, 2, 3, 4, 5]


def test_whole_heads_drop_the_heads_with_the_lowest_mean_score() -> None:
    scores = torch.tensor([0.1, 9.0, 0.2, 0.3, 5.0, 6.0, 1.0, 1.0, 1.1])  # head 0 has the weakest channel, not mean
    assert weakest_heads(scores, kept=2, heads=3) == [6, 7, 8]
    assert weakest_heads(scores, kept=1, heads=3) == [0, 1, 2, 6, 7, 8]
    assert weakest_heads(scores, kept=3, heads=3) == []


def test_whole_heads_need_head_split_attention_or_the_residual_width() -> None:
    bundle = load_dataset("shapes")
    handle = load_model("vit_tiny", bundle, weights="random", image_size=(32, 32))
    with pytest.raises(OptionError, match="--whole-heads.*vit_tiny has none.*add --residual-width"):
        prune_model(handle, bundle, Prune(sparsity=0.5, whole_heads=True), train_config("vit_tiny"))
    with pytest.raises(OptionError, match="goes with --structured"):
        Prune(sparsity=0.5, structured=False, whole_heads=True).check()


def test_residual_width_needs_torch_attention() -> None:
    bundle = load_dataset("shapes")
    handle = load_model("tiny_cnn", bundle, weights="random")
    with pytest.raises(OptionError, match="has none"):
        prune_model(handle, bundle, Prune(sparsity=0.5, residual_width=True), train_config("tiny_cnn"))


def test_the_fine_tuning_takes_the_seed_it_is_given(
    trained_tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/prune_seeds.py's spread rests on `seed` reaching the fine-tuning's training loop."""
    from compressor.methods import prune as prune_method

    seeds = []
    real_fit = prune_method.fit

    def recording_fit(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seeds.append(args[5].seed)  # fit(module, task, train_set, val_set, spec, config, ...)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(prune_method, "fit", recording_fit)
    request = Prune(sparsity=0.5, finetune_epochs=1)
    commands.prune(str(trained_tiny), tmp_path / "out", request, data="shapes", seed=7, **FAST)  # type: ignore[arg-type]
    assert seeds == [7]
