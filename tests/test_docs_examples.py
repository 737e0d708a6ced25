"""The docs' examples work: every `compress ...` command in a ```bash block of the getting-started and task
pages runs through the CLI (in this process) with small settings, so a renamed verb or flag fails CI.

Small settings: a zoo image classifier becomes tiny_cnn with random weights at 32x32, the shapes splits
shrink to 64 train and 32 val images, epochs to 1, batch sizes to 1, and timing is brief. Commands of one
block run in order in one folder, so a later one reads what an earlier one wrote; `my_model.onnx` and
`path/to/images` (a user's own files) are staged there. A block right after `<!-- not run: REASON -->`
(TensorRT, a GPU, torchrun, a CI workflow) is only parsed: an unknown verb or flag fails all the same.
Python blocks name only what `import compressor as cz` offers, and a recipe block validates.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import typer
import typer.main
import yaml
from typer.testing import CliRunner

from compressor.cli import app

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = [
    "getting-started", "quantize", "prune", "distill", "export-and-jetson", "bench", "recipes", "ci-gate", "openvino",
]  # fmt: skip
PYTHON_PAGES = [REPO / "README.md", DOCS / "getting-started.md", DOCS / "api.md"]
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(\S.*?)\s*-->$")
FENCE = re.compile(r"^```(\w*)\s*$")
SHELL_BREAKS = {"|", "||", "&&", ";", "&"}  # the compress command ends here
STAND_IN = "tiny_cnn"  # for every zoo image classifier: same flags, seconds instead of minutes
CAPPED = {"--epochs": 1, "--finetune-epochs": 1, "--max-samples": 32, "--calib-samples": 8}
SET = {"--batch-sizes": "1"}
ADDED = {"--max-samples": "32", "--calib-samples": "8", "--batch-sizes": "1"}
ZOO_ADDED = {"--weights": "random", "--image-size": "32"}  # where MODEL is a zoo name
MODEL_VERBS = {"bench", "quantize", "prune", "export", "train"}  # their first argument is MODEL


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    text: str
    not_run: str | None  # the page's reason, where it marks the block

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"


def page_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a page, each with its language and the not-run mark right above it."""
    found, lines = [], path.read_text().splitlines()
    start, language = None, ""
    for number, line in enumerate(lines, start=1):
        if start is None and (opening := FENCE.match(line)):
            start, language = number, opening.group(1)
        elif start is not None and line.strip() == "```":
            mark = NOT_RUN.match(lines[start - 2].strip()) if start > 1 else None
            text = "\n".join(lines[start:number - 1])  # fmt: skip
            found.append(Block(path.stem, start, language, text, mark.group(1) if mark else None))
            start = None
    return found


def shell_lines(block: Block) -> Iterator[str]:
    """The block's shell commands, one per line: a bash block's lines, a workflow's `run:` steps."""
    if block.language == "bash":
        yield from re.sub(r"\\\n", " ", block.text).splitlines()
    elif block.language in ("yaml", "yml"):

        def runs(node: object) -> Iterator[str]:
            if isinstance(node, dict):
                for key, value in node.items():
                    yield from [value] if key == "run" and isinstance(value, str) else runs(value)
            elif isinstance(node, list):
                for item in node:
                    yield from runs(item)

        for script in runs(yaml.safe_load(block.text)):
            yield from re.sub(r"\\\n", " ", script).splitlines()


@dataclass(frozen=True)
class Command:
    args: list[str]  # after `compress` (or `python -m compressor`, `torchrun ... -m compressor`)
    stdout: str | None  # `> FILE`

    def __str__(self) -> str:
        return shlex.join(["compress", *self.args])


def commands(block: Block) -> list[Command]:
    found = []
    for line in shell_lines(block):
        words = shlex.split(line, comments=True)
        for index, word in enumerate(words):
            if word == "compress" or (word == "compressor" and words[index - 1 : index] == ["-m"]):
                args, stdout = [], None
                rest = iter(words[index + 1 :])
                for arg in rest:
                    if arg in SHELL_BREAKS:
                        break
                    if arg == ">":
                        stdout = next(rest)
                        continue
                    args.append(arg)
                found.append(Command(args, stdout))
                break
    return found


ALL_BLOCKS = [block for page in PAGES for block in page_blocks(DOCS / f"{page}.md") if commands(block)]
GROUP = typer.main.get_command(app)


def verb_command(verb: str) -> Any:  # typer's own copy of click.Command
    command = GROUP.commands.get(verb)
    assert command is not None, f"no verb {verb!r}; compress has {', '.join(GROUP.commands)}"
    return command


def parse(args: list[str], where: str = "") -> None:
    """What click makes of a command line without running it: an unknown verb or flag, a missing
    argument or a bad value fails."""
    line = f"{where}: compress {shlex.join(args)}"
    assert "..." not in args, f"{line}: write the command out in full"
    try:
        with GROUP.make_context("compress", list(args)) as context:
            verb, *rest = [*context._protected_args, *context.args]
            verb_command(verb).make_context(verb, rest, parent=context).close()
    except typer.TyperException as error:  # click's errors, as typer vendors them
        raise AssertionError(f"{line}: {error.format_message()}") from None


def zoo_tasks() -> dict[str, str]:
    from compressor.commands import list_models

    return {entry.name: entry.task for entry in list_models()}


def small(args: list[str], zoo: dict[str, str], folder: Path) -> list[str]:
    """The command with small settings: see the module's docstring."""
    verb, *args = args
    takes_value = {
        option: not (param.is_flag or param.count)
        for param in verb_command(verb).params
        if param.param_type_name == "option"
        for option in [*param.opts, *param.secondary_opts]
    }
    positional, values, index = [], {}, 0
    while index < len(args):
        if args[index] in takes_value:
            if takes_value[args[index]]:
                values[args[index]] = index + 1
                index += 1
        else:
            positional.append(index)
        index += 1
    zoo_model = False
    model_slots = [values[flag] for flag in ("--teacher", "--student") if flag in values]
    if verb in MODEL_VERBS and positional:
        model_slots.append(positional[0])
    for slot in model_slots:
        if args[slot] in zoo:
            zoo_model = True
            args[slot] = STAND_IN if zoo[args[slot]] == "classification" else args[slot]
    for flag, cap in CAPPED.items():
        if flag in values:
            args[values[flag]] = str(min(float(args[values[flag]]), cap)).removesuffix(".0")
    for flag, value in SET.items():
        if flag in values:
            args[values[flag]] = value
    added = {**ADDED, **(ZOO_ADDED if zoo_model else {})}
    if verb == "distill" and values.get("--teacher") and args[values["--teacher"]] in zoo:
        added["--teacher-weights"] = "random"
    if zoo_model and "--image-size" in values:
        args[values["--image-size"]] = "32"
    for flag, value in added.items():
        if flag in takes_value and flag not in values:
            args += [flag, value]
    if verb == "run":
        recipe = Path(args[positional[0]])
        if not (folder / recipe).exists() and (REPO / recipe).exists():
            args[positional[0]] = str(REPO / recipe)
        recipe = folder / args[positional[0]]  # written by an earlier command of the block, or shipped
        model = yaml.safe_load(recipe.read_text())["model"] if recipe.is_file() else None
        if zoo.get(model) == "classification":
            args += ["--model", STAND_IN, "--set", "image_size=32"]
        args += ["--set", "weights=random", "--set", "batch_sizes=[1]"]
    return [verb, *args]


@pytest.fixture(scope="module")
def my_model(tmp_path_factory: pytest.TempPathFactory, image_folder: Path) -> Path:
    """A user's own ONNX classifier for `path/to/images`: here tiny_cnn, exported for its 3 classes."""
    path = tmp_path_factory.mktemp("my_model") / "my_model.onnx"
    args = ["export", STAND_IN, "--weights", "random", "--data", str(image_folder), "--image-size", "32"]
    result = CliRunner().invoke(app, [*args, "--format", "onnx", "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def small_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Shrunk built-in datasets, brief timing, and a cache of this test's own (to see that nothing trained
    a reference checkpoint)."""
    from compressor.data import shapes, shapes_det
    from compressor.measurement import timing, variants
    from compressor.methods import speed_tune

    for module, train, val in ((shapes, 64, 32), (shapes_det, 8, 4)):
        monkeypatch.setitem(module.SPLIT_SIZES, "train", train)
        monkeypatch.setitem(module.SPLIT_SIZES, "val", val)

    def brief(runner, inputs, min_seconds=0.02, min_iterations=3, warmup=1):
        return timing.time_runner(runner, inputs, min(min_seconds, 0.02), min(min_iterations, 3), warmup=1)

    monkeypatch.setattr(variants, "time_runner", brief)
    monkeypatch.setattr(speed_tune, "TIMING_SECONDS", 0.01)
    cache = tmp_path / "cache"
    monkeypatch.setenv("COMPRESSOR_CACHE", str(cache))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as one xdist worker of two on CI's 2 cores; models this small gain nothing from more
    yield cache
    torch.set_num_threads(threads)


def test_every_page_has_examples_and_each_mark_a_reason() -> None:
    pages = {block.page for block in ALL_BLOCKS}
    assert pages == set(PAGES), f"pages without a compress example: {set(PAGES) - pages}"
    for page in PAGES:
        text = (DOCS / f"{page}.md").read_text()
        marks = [line for line in text.splitlines() if "not run" in line and line.startswith("<!--")]
        assert all(NOT_RUN.match(mark.strip()) for mark in marks), f"{page}: a not-run mark without a reason"
        marked = [block for block in page_blocks(DOCS / f"{page}.md") if block.not_run is not None]
        assert len(marks) == len(marked), f"{page}: a not-run mark that is not right above a code block"


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.not_run is None], ids=lambda b: b.name)
def test_example_block_runs(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_data: Path, image_folder: Path, my_model: Path
) -> None:
    folder = tmp_path / "work"
    (folder / "path" / "to").mkdir(parents=True)
    shutil.copytree(image_folder, folder / "path" / "to" / "images")
    shutil.copyfile(my_model, folder / "my_model.onnx")
    monkeypatch.chdir(folder)
    zoo, runner = zoo_tasks(), CliRunner()
    for command in commands(block):
        parse(command.args, block.name)  # as written
        args = small(command.args, zoo, folder)
        result = runner.invoke(app, args, terminal_width=200)
        allowed = (0, 1) if args[0] == "compare" else (0,)  # 1: a regression, an answer the gate may give
        assert result.exit_code in allowed, f"{block.name}: {command}\nran: {shlex.join(args)}\n{result.output}"
        if command.stdout:
            (folder / command.stdout).write_text(result.stdout)
    assert not (small_data / "reference").exists(), "an example trained a reference checkpoint"


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.not_run is not None], ids=lambda b: b.name)
def test_example_block_that_cannot_run_here_parses(block: Block) -> None:
    for command in commands(block):
        parse(command.args, block.name)


def test_the_front_pages_commands_parse() -> None:
    """The bash blocks of README.md and the site's home page, and the examples of README's table of verbs:
    parsed (the task pages run the same commands)."""
    readme = REPO / "README.md"
    found = [command.args for page in (readme, DOCS / "index.md") for b in page_blocks(page) for command in commands(b)]
    table = re.findall(r"^\| `\w+` \|.*\| `compress ([^`]+)` \|$", readme.read_text(), flags=re.MULTILINE)
    assert len(found) >= 3 and len(table) >= 9, (found, table)
    for args in [*found, *map(shlex.split, table)]:
        parse(args, "README.md or docs/index.md")


def test_a_renamed_flag_or_verb_fails_the_parse() -> None:
    parse(["--debug", "quantize", "m", "--precision", "int8", "-o", "x"])
    for args in (
        ["quantize", "m", "--precison", "int8", "-o", "x"],
        ["quantise", "m", "--precision", "int8", "-o", "x"],
        ["distill", "--teacher", "resnet18", "...", "-o", "x"],
    ):
        with pytest.raises(AssertionError, match="No such option|no verb|write the command out"):
            parse(args)


def test_commands_are_read_as_a_shell_reads_them() -> None:
    text = "# a comment\nOMP_NUM_THREADS=1 torchrun --nproc_per_node 2 -m compressor distill \\\n    --epochs 1 -o o\n"
    text += "compress quantize m -o x --dump-recipe > mine.yaml  # a note\npip install -e .\n"
    found = commands(Block("page", 1, "bash", text, None))
    assert [(c.args, c.stdout) for c in found] == [
        (["distill", "--epochs", "1", "-o", "o"], None),
        (["quantize", "m", "-o", "x", "--dump-recipe"], "mine.yaml"),
    ]
    zoo = {"mobilenet_v2": "classification", "ssdlite320_mobilenet_v3_large": "detection"}
    args = small(["prune", "mobilenet_v2", "--finetune-epochs", "3", "--batch-sizes", "1,16", "-o", "p"], zoo, REPO)
    assert args[:8] == ["prune", STAND_IN, "--finetune-epochs", "1", "--batch-sizes", "1", "-o", "p"]
    assert {"--weights", "--max-samples", "--image-size"} <= set(args)
    assert small(["bench", "ssdlite320_mobilenet_v3_large"], zoo, REPO)[1] == "ssdlite320_mobilenet_v3_large"


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=lambda p: p.name)
def test_python_examples_use_only_the_public_api(page: Path) -> None:
    import compressor

    blocks = [block for block in page_blocks(page) if block.language == "python"]
    assert blocks, f"{page.name} has no python example"
    for block in blocks:
        compile(block.text, f"{page.name}:{block.line}", "exec")
        unknown = set(re.findall(r"\bcz\.(\w+)", block.text)) - set(compressor.__all__)
        assert not unknown, f"{page.name}:{block.line}: cz.{', cz.'.join(sorted(unknown))} is not public"


def test_recipe_examples_validate() -> None:
    from compressor.pipeline.recipe import recipe_from_data

    recipes = [b for page in DOCS.glob("*.md") for b in page_blocks(page) if "compressor.recipe/1" in b.text]
    assert recipes
    for block in recipes:
        recipe_from_data(yaml.safe_load(block.text), source=block.name)
