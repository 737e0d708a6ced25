"""README.md and docs/ as pages: every relative link reaches a file (and heading) that exists, and no
paragraph or list item runs past 120 words (tables and code blocks aside)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")
MAX_WORDS = 120


def outside_code(text: str) -> list[tuple[int, str]]:
    """The page's lines outside fenced code blocks, numbered from 1."""
    kept, fence = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence:
            kept.append((number, line))
    return kept


def anchors(page: Path) -> set[str]:
    """GitHub's ids for a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = [line.lstrip("#").strip() for _, line in outside_code(page.read_text()) if line.startswith("#")]
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def broken_links(page: Path) -> list[str]:
    broken = []
    for number, line in outside_code(page.read_text()):
        for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}:{number}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{page.name}:{number}: {target} (no such heading)")
    return broken


def long_blocks(text: str) -> list[tuple[int, int]]:
    """(first line, words) of each paragraph or list item over MAX_WORDS; tables and headings are not prose."""
    found, block, start = [], [], 0

    def close() -> None:
        words = len(" ".join(block).split())
        if words > MAX_WORDS:
            found.append((start, words))
        block.clear()

    for number, line in outside_code(text):
        if not line.strip() or line.startswith(("|", "#")):
            close()
            continue
        if ITEM.match(line):
            close()
        if not block:
            start = number
        block.append(line)
    close()
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_reaches_a_file_and_heading(page: Path) -> None:
    assert not broken_links(page)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_paragraph_or_list_item_over_120_words(page: Path) -> None:
    assert not long_blocks(page.read_text()), f"{page.name}: (line, words) {long_blocks(page.read_text())}"


def test_the_checks_fail_on_a_broken_link_and_a_long_paragraph(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# A heading\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](there.md#a-heading) [file](missing.md) [heading](there.md#nope) [web](https://x.org)\n")
    assert broken_links(page) == ["page.md:1: missing.md (no such file)", "page.md:1: there.md#nope (no such heading)"]
    long = " ".join(["word"] * 121)
    assert long_blocks(f"short\n\n- {long}\n\n| {long} |\n\n```\n{long}\n```\n") == [(3, 122)]
