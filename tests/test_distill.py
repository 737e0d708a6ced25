"""`compress distill` on tiny models: the teacher, distilled and scratch rows of one run, and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from compressor import commands
from compressor.cli import app
from compressor.core.errors import OptionError
from compressor.core.handle import InputSpec
from compressor.data import load_dataset
from compressor.models.checkpoint import read_checkpoint
from compressor.models.loading import load_model
from compressor.models.zoo import TinyCNN
from compressor.tasks.classification import normalize_images, renormalisation
from compressor.training import fit as train_module
from compressor.training.distillation import (
    DistillationStudent,
    Teacher,
    embedding_loss,
    hinton_loss,
    parse_feature_pairs,
)
from compressor.training.fit import TrainConfig


def test_distill_writes_teacher_distilled_and_scratch_rows(cli, trained_tiny: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    args = ["distill", "--teacher", str(trained_tiny), "--student", "tiny_cnn", "--epochs", "1", "--compare-scratch"]
    result = cli.invoke(app, [*args, "--max-samples", "100", "--batch-sizes", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output

    report = json.loads((out / "report.json").read_text())
    rows = {(row["variant"], row["backend"]) for row in report["results"]}
    assert rows == {(v, b) for v in ("teacher", "distilled", "scratch") for b in ("torch", "onnxruntime")}
    assert report["distillation"]["temperature"] == 4.0 and report["distillation"]["alpha"] == 0.7
    assert report["distillation"]["teacher_weights"] == str(trained_tiny)
    assert {v["reference"] for v in report["verdicts"]} == {"teacher"}
    student = load_model(str(out / "distilled.pt"), load_dataset("shapes"))
    assert student.module is not None and (out / "scratch.onnx").is_file()
    assert report["distillation"]["distilled"]["best_epoch"] == 1 and "best_val" in report["distillation"]["scratch"]


def test_distill_errors_are_one_line(cli, trained_tiny: Path, tmp_path: Path) -> None:  # noqa: ANN001
    base = ["distill", "--teacher", str(trained_tiny), "-o", str(tmp_path / "out")]
    bad_alpha = cli.invoke(app, [*base, "--student", "tiny_cnn", "--alpha", "1.5"])
    assert bad_alpha.exit_code == 2 and "--alpha in [0, 1]" in bad_alpha.output
    wrong_task = cli.invoke(app, [*base, "--student", "ssdlite320_mobilenet_v3_large"])
    assert wrong_task.exit_code == 2 and "Traceback" not in wrong_task.output
    assert len(wrong_task.output.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_student_smaller_than_its_teacher_learns_from_resized_batches(
    cli, trained_tiny: Path, tmp_path: Path
) -> None:  # noqa: ANN001
    """A 64x64 teacher checkpoint and a 32x32 student: the teacher sees each batch at its own size, and
    both are measured (and timed head to head) at their own sizes. It was refused before."""
    out = tmp_path / "out"
    args = ["distill", "--teacher", str(trained_tiny), "--student", "tiny_cnn", "--image-size", "32"]
    result = cli.invoke(app, [*args, "--epochs", "1", "--max-samples", "64", "--batch-sizes", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "the teacher sees each batch resized from 32x32 to its own 64x64" in result.output
    report = json.loads((out / "report.json").read_text())
    assert {v["variant"] for v in report["verdicts"]} == {"distilled"}
    student = load_model(str(out / "distilled.pt"), load_dataset("shapes"))
    assert student.input_spec.image_size == (32, 32)


def test_the_teacher_gets_batches_at_its_own_size() -> None:
    seen: list[tuple[int, ...]] = []
    teacher = TinyCNN(num_classes=4, width=8).eval()
    teacher.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape)))
    guide = Teacher(teacher, image_size=(48, 40))
    DistillationStudent(TinyCNN(num_classes=4, width=8), guide, [torch.randn(2, 3, 24, 24)])
    assert seen == [(2, 3, 48, 40)]


def test_hinton_loss_on_known_logits() -> None:
    student = torch.tensor([[2.0, 0.0, -1.0]])
    teacher = torch.tensor([[0.0, 3.0, 0.0]])
    target = torch.tensor([1])
    temperature, alpha = 2.0, 0.7
    p_teacher = torch.softmax(teacher / temperature, dim=1)
    log_p_student = torch.log_softmax(student / temperature, dim=1)
    kl = float((p_teacher * (p_teacher.log() - log_p_student)).sum())
    cross_entropy = -float(torch.log_softmax(student, dim=1)[0, 1])
    expected = alpha * temperature**2 * kl + (1 - alpha) * cross_entropy
    assert hinton_loss(student, teacher, target, temperature, alpha).item() == pytest.approx(expected, rel=1e-6)
    # A student that already answers like the teacher pays only the label term.
    same = hinton_loss(teacher, teacher, target, temperature, alpha).item()
    assert same == pytest.approx((1 - alpha) * -float(torch.log_softmax(teacher, dim=1)[0, 1]), rel=1e-6)


def test_embedding_loss_is_cosine_distance() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert embedding_loss(a, a * 3).item() == pytest.approx(0.0, abs=1e-6)
    assert embedding_loss(a, torch.tensor([[0.0, 1.0], [0.0, -1.0]])).item() == pytest.approx(1.5)


def test_feature_pairs_project_a_narrower_student_onto_the_teacher() -> None:
    teacher, student = TinyCNN(num_classes=4, width=16), TinyCNN(num_classes=4, width=8)
    guide = Teacher(teacher.eval(), feature_pairs=parse_feature_pairs(["11:11"]))
    wrapped = DistillationStudent(student, guide, [torch.randn(2, 3, 32, 32)])
    assert isinstance(wrapped.projections[0], torch.nn.Conv2d)  # 16 -> 32 channels onto 32 -> 64
    assert wrapped.projections[0].in_channels == 16 and wrapped.projections[0].out_channels == 32
    inputs = [torch.randn(4, 3, 32, 32)]
    loss = wrapped.loss(wrapped(*inputs), wrapped.teacher_outputs(inputs), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert wrapped.projections[0].weight.grad is not None and student[0].weight.grad is not None
    wrapped.release()
    assert not student[11]._forward_hooks and not teacher[11]._forward_hooks


def test_a_teacher_normalised_otherwise_sees_its_own_normalisation() -> None:
    """One batch, normalised for the student (ImageNet statistics), feeds a teacher trained on mean and
    std 0.5 (a hub ViT): the teacher must see the pixels as its own normalisation gives them."""
    student_spec = InputSpec.image((32, 32))
    teacher_spec = InputSpec(shape=(3, 32, 32), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 4)).eval()  # input-sensitive
    student = TinyCNN(num_classes=4, width=8)
    pixels = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    guide = Teacher(teacher, renormalise=renormalisation(student_spec, teacher_spec))
    wrapped = DistillationStudent(student, guide, [normalize_images(pixels, student_spec)])
    (seen,), _ = wrapped.teacher_outputs([normalize_images(pixels, student_spec)])
    with torch.no_grad():
        torch.testing.assert_close(seen, teacher(normalize_images(pixels, teacher_spec)))
        assert not torch.allclose(seen, teacher(normalize_images(pixels, student_spec)), atol=1e-3)
    assert renormalisation(student_spec, InputSpec.image((32, 32))) is None


def test_feature_pair_errors_name_the_layer() -> None:
    with pytest.raises(OptionError, match="teacher.layer:student.layer"):
        parse_feature_pairs(["layer3"])
    guide = Teacher(TinyCNN(4).eval(), feature_pairs=[("11", "features.3")])
    with pytest.raises(OptionError, match="student has no layer 'features.3'"):
        DistillationStudent(TinyCNN(4), guide, [torch.randn(1, 3, 32, 32)])


def test_distill_with_feature_pairs_from_the_command_line(cli, trained_tiny: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    args = ["distill", "--teacher", str(trained_tiny), "--student", "tiny_cnn", "--epochs", "1"]
    result = cli.invoke(
        app, [*args, "--feature-pairs", "8:8", "--max-samples", "50", "--batch-sizes", "1", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "report.json").read_text())["distillation"]["feature_pairs"] == ["8:8"]
    unknown = cli.invoke(app, [*args, "--feature-pairs", "8:layer9", "-o", str(tmp_path / "bad")])
    assert unknown.exit_code == 2 and "student has no layer 'layer9'" in unknown.output


class _Interrupted(Exception):
    pass


def test_the_running_loss_is_read_every_half_second_not_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a loss on the GPU waits for its queued steps, so the progress bar reads the device-side sum
    at most every LOSS_READ_INTERVAL_S; the epoch's mean is still that of every step."""
    now = {"seconds": 100.0}
    monkeypatch.setattr(train_module.time, "monotonic", lambda: now["seconds"])
    running, reads = train_module.RunningLoss(), 0
    for step in range(10):
        running.add(torch.tensor(float(step)))
        now["seconds"] += 0.125
        if running.read_due():
            running.mean()
            reads += 1
    assert reads == 3  # the first step, then 0.5 s and 1.0 s later
    assert running.mean() == 4.5


def test_resume_after_a_crash_ends_where_an_uninterrupted_run_ends(
    image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed in its second epoch and resumed gives the same weights as one never stopped."""
    config = {"lr": 5e-3, "batch_size": 8}
    commands.train("tiny_cnn", tmp_path / "straight.pt", data=str(image_folder), epochs=3, config=TrainConfig(**config))

    original_step = train_module._Run.step
    calls = {"n": 0}

    def step_then_crash(self, inputs, targets):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 13:  # 9 steps per epoch: mid-way through the second
            raise _Interrupted
        return original_step(self, inputs, targets)

    monkeypatch.setattr(train_module._Run, "step", step_then_crash)
    resumed_path = tmp_path / "resumed.pt"
    with pytest.raises(_Interrupted):
        commands.train("tiny_cnn", resumed_path, data=str(image_folder), epochs=3, config=TrainConfig(**config))
    state = tmp_path / "resumed.state.pt"
    assert state.is_file() and not resumed_path.exists()
    assert torch.load(state, weights_only=True)["epoch"] == 1
    monkeypatch.setattr(train_module._Run, "step", original_step)

    commands.train(
        "tiny_cnn", resumed_path, data=str(image_folder), epochs=3, config=TrainConfig(**config), resume=True
    )
    straight, resumed = read_checkpoint(tmp_path / "straight.pt"), read_checkpoint(resumed_path)
    assert resumed.description["train"]["top1"] == straight.description["train"]["top1"]
    for key, tensor in straight.state_dict.items():
        assert torch.equal(tensor, resumed.state_dict[key]), key
    assert not state.exists()  # removed once the checkpoint is written

    with pytest.raises(OptionError, match="epochs=3"):  # a state from other options is not silently mixed in
        monkeypatch.setattr(train_module._Run, "step", step_then_crash)
        calls["n"] = 0
        with pytest.raises(_Interrupted):
            commands.train(
                "tiny_cnn", tmp_path / "x.pt", data=str(image_folder), epochs=3, config=TrainConfig(**config)
            )
        monkeypatch.setattr(train_module._Run, "step", original_step)
        commands.train(
            "tiny_cnn", tmp_path / "x.pt", data=str(image_folder), epochs=4, config=TrainConfig(**config), resume=True
        )


def test_two_process_gloo_run_writes_the_report_one_process_writes(cli, trained_tiny: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """`torchrun --nproc_per_node 2 -m compressor distill` on CPU: DDP over gloo, one report from rank 0."""
    args = ["distill", "--teacher", str(trained_tiny), "--student", "tiny_cnn", "--epochs", "1"]
    args += ["--max-samples", "50", "--batch-sizes", "1"]
    single = cli.invoke(app, [*args, "-o", str(tmp_path / "one")])
    assert single.exit_code == 0, single.output
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [*torchrun, "-m", "compressor", *args, "-o", str(tmp_path / "two")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    one, two = (json.loads((tmp_path / name / "report.json").read_text()) for name in ("one", "two"))
    assert one.keys() == two.keys()
    assert [(r["variant"], r["backend"]) for r in one["results"]] == [
        (r["variant"], r["backend"]) for r in two["results"]
    ]
    assert one["distillation"]["processes"] == 1 and two["distillation"]["processes"] == 2
    assert run.stdout.count("wrote ") == 1  # rank 0 alone reports and writes
    assert run.stderr.count("saved ") == 1
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())


def test_a_framing_is_scaled_with_its_crop() -> None:
    from compressor.core.handle import scaled_resize

    assert scaled_resize((256,), (224, 224), (128, 128)) == (146,)  # the same 0.875 crop of each image
    assert scaled_resize((224, 224), (224, 224), (128, 128)) == (128, 128)  # a squash stays a squash


def test_a_zoo_student_can_start_from_given_weights(cli, trained_tiny: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from compressor.commands.distilling import _student

    shapes = load_dataset("shapes")
    started = _student("tiny_cnn", shapes, None, str(trained_tiny)).module.state_dict()
    trained = load_model(str(trained_tiny), shapes).module.state_dict()
    assert all(torch.equal(started[key], trained[key]) for key in trained)
    args = ["distill", "--teacher", "resnet18", "--student", "mobilenet_v2", "--student-weights", "imagenet"]
    result = cli.invoke(app, [*args, "--dump-recipe", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0 and "weights: imagenet" in result.output  # the recipe's model starts from them
