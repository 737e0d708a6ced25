"""report.html: the table, the embedded figures (only those the report has data for), the Pareto front,
and a real render in headless Chromium whose screenshot is checked for the page's content."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

import pytest
from PIL import Image

from compressor.pareto import pareto_front
from compressor.report import DatasetInfo, LatencyMs, Report, ResultRow, write_report
from compressor.report_html import to_html

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from render_report import find_browser, render  # noqa: E402


def _row(variant: str, backend: str, p50: float, top1: float, **extra: object) -> ResultRow:
    return ResultRow(
        variant=variant, precision="fp32", backend=backend, device="cpu", batch_size=1, artifact=None,
        metrics={"top1": top1}, latency_ms=LatencyMs(p50=p50, p90=p50, p99=p50), fps=1000 / p50, size_mb=p50,
        params=10, macs=100, peak_memory_mb=1.0, **extra,
    )  # fmt: skip


def _report(**extra: object) -> Report:
    rows = [_row("baseline", "onnxruntime", 3.0, 0.95), _row("int8", "onnxruntime", 1.5, 0.94)]
    return Report(
        model="tiny<cnn>", task="classification", primary_metric="top1", dataset=DatasetInfo(name="shapes", samples=9),
        environment={"cpu": "test cpu", "torch": "2.x"}, results=rows, **extra,
    )  # fmt: skip


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_pareto_front_keeps_only_undominated_points() -> None:
    points = [(0.95, 3.0), (0.94, 1.5), (0.93, 2.0), (0.80, 1.0)]  # (metric up, latency down)
    assert pareto_front(points, maximize=(True, False)) == [0, 1, 3]  # (0.93, 2.0) loses to (0.94, 1.5)


def test_html_has_the_table_figures_and_escapes_text() -> None:
    page = to_html(_report())
    assert "<td>int8</td>" in page and "tiny&lt;cnn&gt;" in page and "tiny<cnn>" not in page
    images = _images(page)
    assert len(images) == 2 and all(image.startswith(b"\x89PNG") for image in images)  # scatter and sizes
    assert "test cpu" in page and "<script" not in page and "http" not in page


def test_sensitivity_and_channels_figures_appear_only_with_their_data() -> None:
    sensitivity = [{"name": f"conv{i}", "op_type": "Conv", "sensitivity": i / 10} for i in range(5)]
    page = to_html(_report(quantization={"sensitivity": sensitivity}, pruning={"channels": {"conv1": [32, 16]}}))
    assert len(_images(page)) == 4


def test_write_report_puts_html_beside_markdown(tmp_path: Path) -> None:
    write_report(_report(), tmp_path / "report.json", tmp_path / "report.md")
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")


@pytest.mark.skipif(find_browser() is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_chromium_renders_the_page_with_its_figures(tmp_path: Path) -> None:
    write_report(_report(), tmp_path / "report.json", tmp_path / "report.md")
    shot = render(tmp_path / "report.html", tmp_path / "shot.png", width=1000, height=1600)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1000, 1600)
    colours = image.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # text, table lines and the plots' colours, not a blank page
    blue = sum(count for count, (r, g, b) in colours if b > 150 and r < 80 and g < 150)
    assert blue > 30  # matplotlib's tab:blue points and bars made it onto the screen
