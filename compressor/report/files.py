"""A report on disk: report.json, and for people report.md and report.html beside it."""

from __future__ import annotations

from pathlib import Path

from compressor.core.files import make_folder, write_text_atomic
from compressor.report.html import to_html
from compressor.report.schema import Report, to_markdown

REPORT_FILES = ("report.json", "report.md", "report.html")


def write_report(report: Report, json_path: str | Path, markdown_path: str | Path | None = None) -> None:
    """report.json, and with a Markdown path the table for people beside it: report.md and report.html."""
    write_text_atomic(json_path, report.to_json())
    if markdown_path is not None:
        write_text_atomic(markdown_path, to_markdown(report))
        write_text_atomic(Path(markdown_path).with_suffix(".html"), to_html(report))


class WritableReport(Report):
    """A report that writes itself: what `cz.measure` returns."""

    def write(self, folder: str | Path) -> Path:
        """report.json, report.md and report.html in `folder` (made if missing); returns the folder."""
        folder = Path(folder)
        make_folder(folder)
        write_report(self, folder / "report.json", folder / "report.md")
        return folder
