"""Reliability: every bad input of docs/reliability.md is one line and exit 2; --debug; untrusted pickles;
an internal error; SIGTERM during a run leaves whole files and the run resumes; fuzzed recipes and flags
never escape as anything but a clear error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compressor import commands
from compressor.cli import app
from compressor.core.errors import CompressorError, InputFileError
from compressor.core.files import make_folder, removed_on_failure
from compressor.models.zoo import tiny_cnn
from compressor.pipeline.recipe import recipe_from_data

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from bad_inputs import CASES, Case, run_case  # noqa: E402


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_input_is_one_clear_line(case: Case, tmp_path: Path) -> None:
    outcome = run_case(case, tmp_path)
    assert outcome.exit_code == 2 and not outcome.traceback
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 or case.mid_run, outcome.stderr
    assert [line for line in lines if line.startswith("error")] == [outcome.error_line], outcome.stderr
    assert outcome.error_line.startswith("error: ") and case.expect in outcome.error_line
    assert not (tmp_path / "pwned").exists()  # the malicious pickle ran nothing
    if case.name == "outdir-has-results":
        assert [path.name for path in (tmp_path / "out").iterdir()] == ["report.json"]  # untouched
    else:
        assert not (tmp_path / "out").exists()  # the failed command left no OUTDIR behind


def _fail_after_writing(folder: Path, name: str) -> None:
    with pytest.raises(KeyboardInterrupt), removed_on_failure(folder):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x")
        raise KeyboardInterrupt


def test_a_failed_command_removes_only_the_folders_it_made(tmp_path: Path) -> None:
    _fail_after_writing(tmp_path / "new" / "deeper" / "out", "baseline.onnx")
    assert not (tmp_path / "new").exists()  # the parents made for it go too
    (tmp_path / "mine").mkdir()
    _fail_after_writing(tmp_path / "mine", "baseline.onnx")
    assert (tmp_path / "mine" / "baseline.onnx").exists()  # a folder the user had is never removed
    _fail_after_writing(tmp_path / "trained", "student.state.pt")
    assert (tmp_path / "trained" / "student.state.pt").exists()  # training state stays for --resume
    with removed_on_failure(tmp_path / "done"):
        (tmp_path / "done").mkdir()
    assert (tmp_path / "done").is_dir()


def test_debug_shows_the_traceback(tmp_path: Path, cli) -> None:
    result = cli.invoke(app, ["--debug", "bench", str(tmp_path / "missing.pt")])
    assert isinstance(result.exception, InputFileError)


def test_trust_checkpoint_loads_a_whole_pickled_model(tmp_path: Path, cli) -> None:
    path = tmp_path / "whole.pt"
    torch.save(tiny_cnn(10), path)  # a pickled nn.Module: needs code to rebuild
    args = ["bench", "tiny_cnn", "--weights", str(path), "--backend", "torch", "--max-samples", "16"]
    refused = cli.invoke(app, [*args, "--batch-sizes", "1"])
    assert refused.exit_code == 2 and "--trust-checkpoint" in refused.stderr
    trusted = cli.invoke(app, ["--trust-checkpoint", *args, "--batch-sizes", "1"])
    assert trusted.exit_code == 0, trusted.output


def test_a_bug_is_one_line_and_exit_3(monkeypatch, cli) -> None:
    def broken(*args, **kwargs):
        return 1 / 0

    monkeypatch.setattr(commands, "bench", broken)
    result = cli.invoke(app, ["bench", "tiny_cnn"])
    assert result.exit_code == 3
    assert result.stderr.startswith("internal error: ZeroDivisionError") and "--debug" in result.stderr


def _wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.2)


def test_sigterm_leaves_whole_files_and_the_run_resumes(image_folder: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "ck.pt"
    state = tmp_path / "ck.state.pt"
    data = ["--data", str(image_folder), "--epochs", "40"]  # many short epochs: the signal lands mid-run
    command = [sys.executable, "-m", "compressor", "train", "tiny_cnn", *data, "-o", str(checkpoint)]
    env = {**os.environ, "COMPRESSOR_CACHE": str(tmp_path / "cache")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(state, timeout=120)  # epoch 1 saved; epoch 2 under way
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "terminated" in stderr and "Traceback" not in stderr
    assert not checkpoint.exists() and not list(tmp_path.glob(".*.tmp"))  # no half-written file left
    torch.load(state, weights_only=True)  # the state file is whole
    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint.is_file() and not state.exists()


KEYS = ["schema", "model", "data", "weights", "image_size", "device", "batch_sizes", "max_samples", "stages"]
KEYS += ["search", "quantize", "prune", "distill", "export", "bench", "precision", "sparsity", "calibration"]
KEYS += ["candidates", "grid", "max_accuracy_drop", "epochs", "format", "typo"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=True), st.text(max_size=8),
    st.sampled_from(["int8", "fp16", "tiny_cnn", "minmax", "onnx", "cpu", "compressor.recipe/1"]),
)  # fmt: skip
YAML_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), YAML_VALUES, max_size=6))
def test_fuzzed_recipes_validate_or_fail_clearly(data: dict) -> None:
    try:
        recipe = recipe_from_data(data, "fuzz.yaml")
    except CompressorError as error:
        assert "\n" not in str(error).strip()
    else:
        assert recipe.model and (recipe.stages or recipe.search is not None)


FLAGS = ["--precision", "int8", "int4", "--calibration", "entropy", "--method", "dynamic", "--auto", "--resume"]
FLAGS += ["--max-accuracy-drop", "-1", "2", "--calib-samples", "0", "--exclude", "Gemm", "--batch-sizes", "1,x"]
FLAGS += ["--image-size", "--force", "--weights", "random", "--max-samples", "--no-tune-speed", "-o", "out"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(FLAGS), max_size=8))
def test_fuzzed_quantize_flags_parse_or_fail_clearly(cli_args: list[str]) -> None:
    from typer.testing import CliRunner

    # --dump-recipe first: after the fuzzed flags a value-taking option ("--exclude") could swallow it and run a job
    result = CliRunner().invoke(app, ["quantize", "tiny_cnn", "--dump-recipe", *cli_args])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_folder_the_machine_cannot_make_is_one_line(tmp_path: Path) -> None:
    """The last guard behind the CLI's own checks (a read-only disk, /proc): was an internal error."""
    (tmp_path / "notes.txt").write_text("a file")
    with pytest.raises(InputFileError, match=r"cannot create the folder .*notes.txt/sub: Not a directory"):
        make_folder(tmp_path / "notes.txt" / "sub")
