"""Writing a benchmark's table and raw reports into benchmarks/results/, shared by every benchmark script."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compressor import api
from compressor.fsutil import write_text_atomic
from compressor.report import Report

RESULTS_DIR = Path(__file__).resolve().parent / "results"  # wherever the script is run from


def write_results(out: Path, name: str, lines: list[str], records: object) -> None:
    """`name`.md (the table people read) and `name`.json (the measurements behind it), then echo the table."""
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / f"{name}.md", "\n".join(lines) + "\n")
    write_text_atomic(out / f"{name}.json", json.dumps(records, indent=1) + "\n")
    print("\n".join(lines))


def bench_models(models: list[str], rows_of: Callable[[Report], list[str]], **options: Any) -> tuple[list[str], dict]:
    """`api.bench` each model with `options`, printing its table rows as they come (runs take minutes);
    returns every row and the raw reports by model."""
    lines: list[str] = []
    reports = {}
    for model in models:
        report = api.bench(model, **options)
        reports[model] = report.model_dump(by_alias=True, mode="json")
        rows = rows_of(report)
        print("\n".join(rows), flush=True)
        lines += rows
    return lines, reports


def table(header: str, rows: list[str], note: str) -> list[str]:
    """A Markdown table (header, separator, rows) and the note under it saying where it was measured."""
    return [header, "|" + "---|" * (header.count("|") - 1), *rows, "", note]
