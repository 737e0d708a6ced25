"""The result tables of README.md and docs/results.md are what the benchmarks wrote: each names the command
that regenerates it (one of benchmarks/all.py's), and each of its rows is in the `.json` that command wrote.
A table of no figures (the README's verbs) is not a results table. docs/results.md includes the files
themselves (`--8<-- "benchmarks/results/NAME.md"`, pymdownx.snippets on the docs site): each include names a
results file, and the text above it names the command that writes that file."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO / "benchmarks"))
from all import BENCHMARKS  # noqa: E402
from results_io import cells, parse_table  # noqa: E402
from test_readme_figures import figures  # noqa: E402

PAGES = [REPO / "README.md", REPO / "docs" / "results.md"]  # every page that shows a results table
DOC_PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]  # any may include a results file
INCLUDE = re.compile(r'^--8<-- "benchmarks/results/([^"/]+)\.md"$')


def page_tables(path: Path) -> list[tuple[int, list[str], str]]:
    """Each Markdown table of a page: its first line number, its rows, and the paragraph right above it
    (its lines joined, so a command may wrap)."""
    found, rows, paragraph, start, after_blank = [], [], [], 0, False
    for number, line in enumerate([*path.read_text().splitlines(), ""], start=1):
        if line.startswith("|"):
            start = start or number
            rows.append(line)
            continue
        if rows:
            found.append((start, rows, " ".join(paragraph)))
            rows, paragraph, start = [], [], 0
        if not line.strip():
            after_blank = True
            continue
        if after_blank:
            paragraph, after_blank = [], False
        paragraph.append(line.strip())
    return found


def page_includes(path: Path) -> list[tuple[int, str, str]]:
    """Each `--8<--` include of a results file: its line number, the results name, and the paragraph right
    above it (its lines joined)."""
    found, paragraph, after_blank = [], [], False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith("--8<--"):
            match = INCLUDE.match(line)
            assert match, f"{path.name}:{number}: includes something other than benchmarks/results/NAME.md: {line}"
            found.append((number, match.group(1), " ".join(paragraph)))
            paragraph = []
            continue
        if not line.strip():
            after_blank = True
            continue
        if after_blank:
            paragraph, after_blank = [], False
        paragraph.append(line.strip())
    return found


def is_results_table(rows: list[str], headers: set[tuple[str, ...]]) -> bool:
    """A results file's header, or any figure in its rows outside code: a table of verbs and examples is not."""
    return tuple(cells(rows[0])) in headers or bool(figures("\n".join(rows[2:])))


def results_rows() -> dict[str, set[tuple[str, ...]]]:
    return {
        path.stem: {tuple(row) for row in json.loads(path.read_text())["table"]["rows"]}
        for path in RESULTS.glob("*.json")
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_table_row_on_a_page_is_in_the_results_of_the_command_it_names(page: Path) -> None:
    commands = {b.command: b.results for b in BENCHMARKS}
    rows_by_results = results_rows()
    headers = {tuple(json.loads(path.read_text())["table"]["header"]) for path in RESULTS.glob("*.json")}
    for line, rows, text in page_tables(page):
        if not is_results_table(rows, headers):
            continue
        named = [command for command in commands if f"`{command}`" in text]
        assert named, f"{page.name}:{line}: the text before this table names none of benchmarks/all.py's commands"
        results = commands[max(named, key=len)]  # the longest: `prune.py --name x` over `prune.py`
        assert results in rows_by_results, f"{page.name}:{line}: {results}.json is missing"
        missing = [row for row in rows[2:] if tuple(cells(row)) not in rows_by_results[results]]
        assert not missing, f"{page.name}:{line}: rows not in benchmarks/results/{results}.json: {missing}"


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: p.name)
def test_every_included_results_file_exists_and_is_written_by_the_command_named_above_it(page: Path) -> None:
    commands = {b.command: b.results for b in BENCHMARKS}
    for line, results, text in page_includes(page):
        assert (RESULTS / f"{results}.md").is_file(), f"{page.name}:{line}: benchmarks/results/{results}.md is missing"
        named = [command for command in commands if f"`{command}`" in text]
        assert named, f"{page.name}:{line}: the text before this include names none of benchmarks/all.py's commands"
        written_by = max(named, key=len)  # the longest: `prune.py --name x` over `prune.py`
        assert commands[written_by] == results, f"{page.name}:{line}: `{written_by}` writes {commands[written_by]}.md"


def test_the_results_page_shows_no_table_by_hand_and_includes_some() -> None:
    page = REPO / "docs" / "results.md"
    headers = {tuple(json.loads(path.read_text())["table"]["header"]) for path in RESULTS.glob("*.json")}
    assert not [line for line, rows, _ in page_tables(page) if is_results_table(rows, headers)]
    assert len(page_includes(page)) >= len(BENCHMARKS) // 2


def test_the_include_check_fails_on_a_missing_file_or_another_command(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    for text, message in (
        ('`python benchmarks/tuner_noise.py --trials 12`:\n\n--8<-- "benchmarks/results/nope.md"\n', "missing"),
        ('`python benchmarks/prune.py`:\n\n--8<-- "benchmarks/results/tuner-noise.md"\n', "writes prune.md"),
        ('Tuner noise:\n\n--8<-- "benchmarks/results/tuner-noise.md"\n', "names none"),
        ('`python benchmarks/prune.py`:\n\n--8<-- "elsewhere/prune.md"\n', "something other"),
    ):
        page.write_text(text)
        with pytest.raises(AssertionError, match=message):
            test_every_included_results_file_exists_and_is_written_by_the_command_named_above_it(page)
    page.write_text('`python benchmarks/prune.py --name prune-bert`:\n\n--8<-- "benchmarks/results/prune-bert.md"\n')
    test_every_included_results_file_exists_and_is_written_by_the_command_named_above_it(page)


def test_every_results_file_was_written_by_a_listed_command() -> None:
    commands = {b.results: b.command for b in BENCHMARKS}
    for path in RESULTS.glob("*.json"):
        document = json.loads(path.read_text())
        assert commands.get(path.stem) == document["command"], f"{path.name}: {document['command']}"
        table, _ = parse_table(path.with_suffix(".md").read_text().splitlines())
        assert table == document["table"], f"{path.name} and its .md disagree"


def test_the_table_check_fails_on_a_figure_no_benchmark_wrote(tmp_path: Path) -> None:
    rows = json.loads((RESULTS / "tuner-noise.json").read_text())["table"]["rows"]
    page = tmp_path / "page.md"
    header, separator = "| " + " | ".join(["x"] * len(rows[0])) + " |", "|" + "---|" * len(rows[0])
    edited = "| " + " | ".join([rows[0][0], "99", *rows[0][2:]]) + " |"
    page.write_text(f"`python benchmarks/tuner_noise.py --trials 12`:\n\n{header}\n{separator}\n{edited}\n")
    with pytest.raises(AssertionError, match="rows not in"):
        test_every_table_row_on_a_page_is_in_the_results_of_the_command_it_names(page)


def test_a_table_of_figures_is_a_results_table_and_a_table_of_verbs_is_not() -> None:
    headers = {("model", "top1")}
    assert is_results_table(["| model | top1 |", "|---|---|"], headers)
    assert is_results_table(["| a | b |", "|---|---|", "| x | 1.5x |"], headers)
    assert is_results_table(["| a | b |", "|---|---|", "| x | 97.1% |"], headers)
    assert not is_results_table(
        ["| verb | example |", "|---|---|", "| prune | `compress prune m --sparsity 0.5` |"], headers
    )
