"""The package's import graph has no cycle, function-level imports included: a layer that needs one
above it (the loader training a reference checkpoint, the report writing its HTML) is a design error
that a deferred import would only hide."""

from __future__ import annotations

import sys

import grimp


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The import cycles of `graph`: each strongly connected group of two or more modules (Tarjan)."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_compressor_imports_without_a_cycle() -> None:
    assert cycles(grimp.build_graph("compressor", include_external_packages=False)) == []


def test_the_check_finds_a_cycle_made_of_function_level_imports(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from loop import b\n")
    (package / "b.py").write_text("def later():\n    from loop import a\n")
    (package / "c.py").write_text("from loop import b\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cycles(grimp.build_graph("loop")) == [["loop.a", "loop.b"]]
