"""Writing a benchmark's table and raw reports into benchmarks/results/, shared by every benchmark script.

Each results `NAME.json` holds the command that wrote it, the table's every cell as the `.md` shows it
(`table`), the note under the table, and the measurements behind it (`records`), so any figure a page
quotes can be traced to the run and the command that made it.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compressor import commands
from compressor.core.files import write_text_atomic
from compressor.report.schema import Report

RESULTS_DIR = Path(__file__).resolve().parent / "results"  # wherever the script is run from


def invocation() -> str:
    """This script's command line as a reader would type it from the repository root."""
    return shlex.join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def cells(line: str) -> list[str]:
    """The cells of one Markdown table row."""
    return [cell.strip() for cell in line.strip().strip("|").split(" | ")]


def parse_table(lines: list[str]) -> tuple[dict[str, list], str]:
    """The first Markdown table in `lines` (header and rows as cells) and the text after it."""
    rows = [line for line in lines if line.startswith("|")]
    if len(rows) < 2:
        return {"header": [], "rows": []}, "\n".join(lines).strip()
    after = lines[lines.index(rows[-1]) + 1 :]
    return {"header": cells(rows[0]), "rows": [cells(row) for row in rows[2:]]}, "\n".join(after).strip()


def write_results(out: Path, name: str, lines: list[str], records: object, command: str | None = None) -> None:
    """`name`.md (the table people read) and `name`.json (the command, the table's cells, the note and the
    measurements behind them), then echo the table."""
    out.mkdir(parents=True, exist_ok=True)
    parsed, note = parse_table(lines)
    document = {"command": command or invocation(), "table": parsed, "note": note, "records": records}
    write_text_atomic(out / f"{name}.json", json.dumps(document, indent=1) + "\n")
    write_text_atomic(out / f"{name}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def read_results(out: Path, name: str) -> dict[str, Any] | None:
    """A results file as `write_results` wrote it, or None where there is none yet."""
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def merged_rows(
    previous: dict[str, Any] | None, header: str, rows: dict[str, list[str]], order: list[str]
) -> list[str]:
    """The table rows of `previous` with `rows` put in or replaced (grouped by their first cell), in
    `order`: a run of some cases updates their rows and keeps the others' from earlier runs."""
    kept: dict[str, list[str]] = {}
    if previous and previous["table"]["header"] == cells(header):
        for row in previous["table"]["rows"]:
            kept.setdefault(row[0], []).append("| " + " | ".join(row) + " |")
    kept.update(rows)
    known = [key for key in order if key in kept] + [key for key in kept if key not in order]
    return [row for key in known for row in kept[key]]


def bench_models(models: list[str], rows_of: Callable[[Report], list[str]], **options: Any) -> tuple[list[str], dict]:
    """`commands.bench` each model with `options`, printing its table rows as they come (runs take minutes);
    returns every row and the raw reports by model."""
    lines: list[str] = []
    reports = {}
    for model in models:
        report = commands.bench(model, **options)
        reports[model] = report.model_dump(by_alias=True, mode="json")
        rows = rows_of(report)
        print("\n".join(rows), flush=True)
        lines += rows
    return lines, reports


def table(header: str, rows: list[str], note: str) -> list[str]:
    """A Markdown table (header, separator, rows) and the note under it saying where it was measured."""
    return [header, "|" + "---|" * (header.count("|") - 1), *rows, "", note]
