"""Every figure README.md states is one a benchmark wrote: each decimal (0.9480, 6.96), percentage (97.9%)
and ratio (1.8x) outside code is a cell of some `benchmarks/results/*.json` table, or inside one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"

# A figure: a ratio (1.8x, 12x), a percentage (97.9%, 26%) or a number with a decimal point (0.9480).
# Digits around it (64x64, 1.23.2) or a letter after it make it something else.
FIGURE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:x|%)(?![\w])|(?<![\w.])\d+\.\d+(?![\w%]|\.\d)")
# A version, not a figure: the number right after the product it numbers ("onnxruntime 1.32.0", "opset 18")
# or any number with two dots (1.23.2).
PRODUCTS = (
    "python", "cpython", "torch", "torchvision", "onnxruntime", "onnxruntime-gpu", "onnx", "opset", "tensorrt",
    "jetpack", "cuda", "transformers", "nncf", "timm", "numpy", "pytorch",
)  # fmt: skip
VERSION = re.compile(r"(?i)\b(?:" + "|".join(map(re.escape, PRODUCTS)) + r")[ -]?v?$")
DOTTED = re.compile(r"\d+\.\d+\.\d+")
# Figures that are not measurements, with the reason. Empty today: add one only with its reason.
NOT_MEASURED: dict[str, str] = {}


def prose(text: str) -> str:
    """`text` without fenced code blocks, inline code and link targets (a link's text stays)."""
    kept, fence = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        kept.append("" if fence else line)
    text = "\n".join(kept)
    text = re.sub(r"(`+).*?\1", " ", text, flags=re.S)
    return re.sub(r"\]\([^)]*\)", "]", text)


def figures(text: str) -> list[str]:
    """The figures of a page's prose and tables, in order, versions left out."""
    text = prose(text)
    versions = {match.span() for match in DOTTED.finditer(text)}
    found = []
    for match in FIGURE.finditer(text):
        if VERSION.search(text[max(0, match.start() - 24) : match.start()]):
            continue
        if any(start <= match.start() < end for start, end in versions):
            continue
        found.append(match.group())
    return found


def results_cells(results: Path = RESULTS) -> list[str]:
    cells = []
    for path in sorted(results.glob("*.json")):
        for row in json.loads(path.read_text())["table"]["rows"]:
            cells.extend(row)
    return cells


def held(figure: str, cells: list[str]) -> bool:
    """`figure` is a cell of a results table or stands inside one (0.9480 in "0.9480 → 0.9580")."""
    pattern = re.compile(r"(?<![\w.])" + re.escape(figure) + r"(?![\w%]|\.\d)")
    return any(cell == figure or pattern.search(cell) for cell in cells)


def unbacked(page: Path, results: Path = RESULTS) -> list[str]:
    cells = results_cells(results)
    return [f for f in figures(page.read_text()) if f not in NOT_MEASURED and not held(f, cells)]


def check(page: Path) -> None:
    missing = unbacked(page)
    assert not missing, f"{page.name} states figures no benchmarks/results/*.json holds: {missing}"


def test_every_readme_figure_is_in_a_results_file() -> None:
    check(REPO / "README.md")


def test_the_readme_states_figures_at_all() -> None:
    assert len(figures((REPO / "README.md").read_text())) >= 10  # an extractor that finds nothing checks nothing


def test_the_check_fails_on_a_figure_no_results_file_holds(tmp_path: Path) -> None:
    page = tmp_path / "README.md"
    page.write_text(
        "# x\n\nint8 runs 1.82x faster at 0.9950 top-1 (`python benchmarks/quantize.py`).\n\n"
        "Now 3.7x faster, and 97.1% of the teacher's accuracy at 0.9123.\n"
    )
    assert unbacked(page) == ["3.7x", "97.1%", "0.9123"]
    with pytest.raises(AssertionError, match="3.7x"):
        check(page)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("runs 1.8x faster, keeps 97.9% and 26% at 0.9480", ["1.8x", "97.9%", "26%", "0.9480"]),
        ("Python 3.10 or newer, onnxruntime 1.20, torch 2.14.1, JetPack 6.2, opset 18", []),
        ("TensorRT 10.3, CUDA 13.0, onnxruntime-gpu 1.31.1, transformers 5.24.0; the newest is 1.23.2", []),
        ("64x64 images, a 2:4 pattern, 8,000 train images, 10 epochs, 80/20", []),
        ("`--sparsity 0.5` in code and [a 1.5x link](docs/x-1.5x.md)", ["1.5x"]),
        ("```bash\ncompress prune m --sparsity 0.5\n```\nthen 2.75x.", ["2.75x"]),
    ],
)
def test_figures_are_numbers_with_a_point_percentages_and_ratios_not_versions(text: str, expected: list[str]) -> None:
    assert figures(text) == expected


def test_a_figure_inside_a_cell_counts_but_not_a_longer_number() -> None:
    cells = ["0.9480 → 0.9580", "2.51x", "97.9% / 98.2% / 98.6%", "+0.20"]
    assert held("0.9480", cells) and held("2.51x", cells) and held("98.2%", cells) and held("0.20", cells)
    assert not held("0.948", cells) and not held("2.5x", cells) and not held("8.2%", cells)
