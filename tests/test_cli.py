"""The CLI as a user runs it: commands, files written, and one clear line for bad input."""

import errno
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compressor.cli import app


def test_models_lists_zoo_with_task_size_source(cli: CliRunner) -> None:
    result = cli.invoke(app, ["models"], terminal_width=200)
    assert result.exit_code == 0
    for name in ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "densenet121", "resnet18", "resnet50"):
        assert name in result.stdout
    assert "classification" in result.stdout and "224x224" in result.stdout and "torchvision" in result.stdout
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 3}
    assert "imagenet" in rows["resnet18"] and "coco" in rows["ssdlite320_mobilenet_v3_large"]
    assert "imagenet" not in rows["tiny_cnn"] and "imagenet" not in rows["vit_tiny"]  # torchvision's class only


def test_train_bench_export_round_trip(cli: CliRunner, tmp_path: Path, image_folder: Path) -> None:
    ckpt, report, onnx_file = tmp_path / "ck.pt", tmp_path / "r.json", tmp_path / "m.onnx"
    result = cli.invoke(
        app, ["train", "tiny_cnn", "--data", str(image_folder), "--epochs", "2", "--image-size", "40", "-o", str(ckpt)]
    )
    assert result.exit_code == 0, result.output
    result = cli.invoke(
        app, ["bench", str(ckpt), "--data", str(image_folder), "--batch-sizes", "1,2", "--json", str(report)]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(report.read_text())["results"]
    assert {(r["backend"], r["batch_size"]) for r in rows} == {
        ("torch", 1),
        ("torch", 2),
        ("onnxruntime", 1),
        ("onnxruntime", 2),
    }
    assert "| baseline | fp32 | torch |" in result.stdout
    result = cli.invoke(
        app, ["export", str(ckpt), "--data", str(image_folder), "--format", "onnx", "-o", str(onnx_file)]
    )
    assert result.exit_code == 0, result.output
    assert "parity vs torch: max abs diff" in result.stdout and onnx_file.is_file()
    # both files run at the 40x40 they record: another --image-size was silently ignored, now refused
    for model_file in (ckpt, onnx_file):
        for size, code in (("40", 0), ("32", 2)):
            args = ["bench", str(model_file), "--data", str(image_folder), "--image-size", size, "--max-samples", "8"]
            result = cli.invoke(app, [*args, "--batch-sizes", "1", "--backend", "onnxruntime"], terminal_width=400)
            assert result.exit_code == code, result.output
    assert "takes 40x40 images, as recorded in the file; --image-size applies to zoo names" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "mobilenet_v9", "--weights", "random"], "unknown model 'mobilenet_v9'"),
        (["bench", "missing/model.pt"], "not found"),
        (["bench", "tiny_cnn", "--weights", "random", "--data", "no_such_data"], "unknown dataset"),
        (["bench", "tiny_cnn", "--weights", "random", "--backend", "tensorflow"], "unknown backend"),
        (["bench", "tiny_cnn", "--weights", "random", "--batch-sizes", "1,x"], "comma-separated integers"),
        (["export", "tiny_cnn", "--weights", "nope.safetensors", "-o", "x.onnx"], "not found"),
        (["prune", "tiny_cnn", "-o", "p", "--auto", "--sparsity", "0.5"], "drop --sparsity or drop --auto"),
        (["prune", "tiny_cnn", "-o", "p", "--sparsity", "0.5", "--max-minutes", "5"], "add --auto or drop --max"),
        (["quantize", "tiny_cnn", "-o", "p", "--auto", "--max-minutes", "0"], "must be above 0, not 0"),
    ],
)
def test_bad_input_is_one_clear_line(cli: CliRunner, args: list[str], message: str) -> None:
    result = cli.invoke(app, args, terminal_width=400)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.output.count("error:") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench"], "Missing argument 'MODEL'. (see 'compress bench --help')"),
        (["bench", "tiny_cnn", "--bogus"], "No such option: --bogus (see 'compress bench --help')"),
        (["quantize", "tiny_cnn", "--precision", "int8"], "Missing option '-o' / '--output'."),
        (["benhc", "tiny_cnn"], "No such command 'benhc'. Did you mean 'bench'? (see 'compress --help')"),
    ],
)
def test_usage_errors_are_one_line_too(cli: CliRunner, args: list[str], message: str) -> None:
    """click's usage text and boxed message were five lines; a CI log now shows one, like other errors."""
    result = cli.invoke(app, args, terminal_width=400)
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and message in result.output
    assert result.output.count("\n") == 1


@pytest.mark.parametrize(
    ("code", "strerror", "exit_code"),
    [(errno.ENOSPC, "No space left on device", 2), (errno.EROFS, "Read-only file system", 2), (errno.EIO, "I/O", 3)],
)
def test_a_full_disk_is_the_machines_error_not_ours(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, code: int, strerror: str, exit_code: int
) -> None:
    """Was `internal error: OSError` (exit 3, as if compressor had the bug); other OS errors still are."""
    from compressor import commands

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(code, strerror, "/data/m.onnx")

    monkeypatch.setattr(commands, "export", full)
    result = cli.invoke(app, ["export", "tiny_cnn", "-o", "/data/m.onnx"], terminal_width=400)
    assert result.exit_code == exit_code and result.output.count("\n") == 1
    if exit_code == 2:
        assert result.output == f"error: {strerror}: /data/m.onnx (no half-written file was left)\n"


def test_bare_compress_shows_the_help(cli: CliRunner) -> None:
    result = cli.invoke(app, [])
    assert result.exit_code == 0 and "Commands" in result.output and "quantize" in result.output


@pytest.mark.parametrize("command", [["quantize", "tiny_cnn", "--precision", "fp16"], ["train", "tiny_cnn"]])
def test_an_option_after_dash_o_is_not_taken_for_the_path(
    cli: CliRunner, command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli.invoke(app, [*command, "-o", "--force"], terminal_width=400)
    assert result.exit_code == 2 and "--force looks like an option, not a path" in result.output
    assert not any(tmp_path.iterdir())  # nothing ran into a folder named --force


def test_input_size_the_model_cannot_take(cli: CliRunner, tmp_path: Path) -> None:
    model_file = tmp_path / "fixed.py"
    model_file.write_text(
        "import torch.nn as nn\n"
        "def build(num_classes):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 64 * 64, num_classes))\n"
    )
    result = cli.invoke(app, ["bench", f"{model_file}:build", "--image-size", "32"], terminal_width=400)
    assert result.exit_code == 2 and "cannot take input of shape (3, 32, 32)" in result.output
    assert "Traceback" not in result.output


def test_a_factory_that_raises_is_the_users_error(cli: CliRunner, tmp_path: Path) -> None:
    """Was `internal error: ValueError` (exit 3, as if compressor had the bug)."""
    model_file = tmp_path / "broken.py"
    model_file.write_text("def build(num_classes):\n    raise ValueError('depth must be even')\n")
    result = cli.invoke(app, ["bench", f"{model_file}:build", "--weights", "random"], terminal_width=400)
    assert result.exit_code == 2, result.output
    assert f"{model_file}:build raised ValueError: depth must be even" in result.output


@pytest.mark.parametrize("size", ["0", "-5"])
def test_image_size_must_be_positive(cli: CliRunner, size: str) -> None:
    """0 was taken as "the default" and -5 reached the model."""
    result = cli.invoke(app, ["bench", "tiny_cnn", "--weights", "random", "--image-size", size], terminal_width=400)
    assert result.exit_code == 2 and "--image-size" in result.output and "greater than or equal to 1" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["bench", "densenet121", "--image-size", "8"],  # too small for its pooling: refused on the untrained net
        ["bench", "tiny_cnn", "--data", "shapes-det"],  # a classifier on detection data
        ["bench", "tiny_cnn", "--weights", "{bundle}"],  # a directory given as weights
        ["quantize", "tiny_cnn", "--precision", "int8", "--data", "topics", "-o", "{out}"],  # ... on texts
        ["distill", "--teacher", "tiny_cnn", "--student", "tiny_cnm", "-o", "{out}"],  # the student misspelt
        ["quantize", "tiny_cnn", "--precision", "int8", "-o", "{done}"],  # OUTDIR holds an earlier run
        ["prune", "tiny_cnn", "--sparsity", "0.5", "-o", "{done}"],
        ["distill", "--teacher", "tiny_cnn", "--student", "tiny_cnn", "-o", "{done}"],
        ["export", "tiny_cnn", "--format", "jetson", "-o", "{bundle}"],
        ["export", "tiny_cnn", "-o", "{done}/report.json"],  # an existing file, without --force
        ["export", "tiny_cnn", "-o", "{done}"],  # a directory: was an internal error after the export
        # under a file: was an internal error once the run wrote its first file
        ["quantize", "tiny_cnn", "--precision", "int8", "-o", "{done}/report.json/out"],
        ["bench", "tiny_cnn", "--json", "{done}/report.json/r.json"],
        # a misspelt --feature-pairs layer: was found when training began, and left an empty OUTDIR behind
        ["distill", "--teacher", "tiny_cnn", "--teacher-weights", "random", "--student", "tiny_cnn"]
        + ["--feature-pairs", "conv9:features.0", "-o", "{out}"],
    ],
)
def test_bad_input_is_refused_before_a_reference_checkpoint_is_trained(
    cli: CliRunner, tmp_path: Path, isolated_cache: Path, args: list[str]
) -> None:
    """Training a zoo model's reference takes minutes: every input is checked first."""
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "report.json").write_text("{}")
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "manifest.json").write_text("{}")
    folders = {"out": tmp_path / "out", "done": tmp_path / "done", "bundle": tmp_path / "bundle"}
    references = isolated_cache / "reference"
    cached = set(references.iterdir()) if references.is_dir() else set()  # other tests' references, in any order
    result = cli.invoke(app, [arg.format(**folders) for arg in args], terminal_width=400)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and "train" not in result.output
    assert (set(references.iterdir()) if references.is_dir() else set()) == cached  # nothing trained
    assert not (tmp_path / "out").exists()


def test_report_paths_that_are_directories_are_refused_before_measuring(cli: CliRunner, tmp_path: Path) -> None:
    for option in ("--json", "--markdown"):
        result = cli.invoke(app, ["bench", "tiny_cnn", "--weights", "random", option, str(tmp_path)])
        assert result.exit_code == 2 and "is a directory" in result.output  # was an internal error after the run


def test_data_path_that_is_not_a_dataset(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    result = cli.invoke(
        app, ["bench", "tiny_cnn", "--weights", "random", "--data", str(tmp_path / "notes.txt")], terminal_width=400
    )
    assert result.exit_code == 2 and "not a dataset" in result.output


def test_corrupt_checkpoint_leaves_no_output(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    out = tmp_path / "m.onnx"
    result = cli.invoke(app, ["export", str(bad), "-o", str(out)], terminal_width=400)
    assert result.exit_code == 2 and "not a readable torch checkpoint" in result.output
    assert not out.exists()


def test_module_form_and_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "compressor", "bench", "nonexistent_model"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "unknown model" in result.stderr and "Traceback" not in result.stderr


def test_help_and_compare_do_not_import_the_library() -> None:
    """`compress --help` and the CI gate `compress compare` start without torch, onnx or onnxruntime
    (about 7 s of imports on 2 cores)."""
    probe = (
        "import sys; from compressor.cli import app; print(sorted({'torch', 'onnx', 'onnxruntime'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_train_refuses_a_trained_model(cli: CliRunner, tmp_path: Path, trained_tiny: Path) -> None:
    result = cli.invoke(app, ["train", str(trained_tiny), "-o", str(tmp_path / "again.pt")], terminal_width=400)
    assert result.exit_code == 2 and "bench or export it by path" in result.output
    assert not (tmp_path / "again.pt").exists()
    result = cli.invoke(app, ["train", "tiny_cn", "-o", str(tmp_path / "x.pt")], terminal_width=400)
    assert result.exit_code == 2 and "tiny_cnn" in result.output


def test_messages_stay_one_line_and_print_brackets_as_written(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from compressor.core.progress import info, make_progress, warn

    path = "/data/[run 7]/" + "x" * 120 + ".onnx"
    info(f"wrote {path}")
    warn(f"{path} is slow")
    factory = "models/[bold]net.py:factory:"  # rich would read a style tag and the :factory: emoji code
    with make_progress(transient=False) as progress:
        progress.add_task(factory, total=1, status="[red]:warning:")
    err = capsys.readouterr().err
    assert err.splitlines() == [f"wrote {path}", f"warning: {path} is slow"]  # no bar in a log
    monkeypatch.setattr(Console, "is_terminal", property(lambda console: True))  # as on a terminal
    with make_progress(transient=False) as progress:
        progress.add_task(factory, total=1, status="[red]:warning:")
    err = capsys.readouterr().err
    assert factory in err and "[red]:warning:" in err
