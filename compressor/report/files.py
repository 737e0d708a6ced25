"""A report on disk: report.json, and for people report.md and report.html beside it."""

from __future__ import annotations

from pathlib import Path

from compressor.core.files import write_text_atomic
from compressor.report.html import to_html
from compressor.report.schema import Report, to_markdown


def write_report(report: Report, json_path: str | Path, markdown_path: str | Path | None = None) -> None:
    """report.json, and with a Markdown path the table for people beside it: report.md and report.html."""
    write_text_atomic(json_path, report.to_json())
    if markdown_path is not None:
        write_text_atomic(markdown_path, to_markdown(report))
        write_text_atomic(Path(markdown_path).with_suffix(".html"), to_html(report))
