"""report.html: the table, the embedded figures (only those the report has data for), the Pareto front,
a real command writing it, and a real render in headless Chromium whose screenshot is checked."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

import pytest
from PIL import Image

from compressor.cli import app
from compressor.report.files import write_report
from compressor.report.html import to_html
from compressor.report.pareto import pareto_front
from compressor.report.schema import DatasetInfo, LatencyMs, Report, ResultRow

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


def test_pareto_front_over_three_objectives_keeps_ties_and_trade_offs() -> None:
    points = [(0.9, 2.0, 8.0), (0.9, 2.0, 4.0), (0.9, 2.0, 4.0), (0.8, 1.0, 9.0), (0.7, 3.0, 9.0)]
    # metric up, latency and size down: the first loses on size alone, the last on everything
    assert pareto_front(points, maximize=(True, False, False)) == [1, 2, 3]
    assert pareto_front([], maximize=(True,)) == []


def test_html_has_the_table_figures_and_escapes_text() -> None:
    page = to_html(_report())
    assert "<td>int8</td>" in page and "tiny&lt;cnn&gt;" in page and "tiny<cnn>" not in page
    assert "<td>0.9400</td>" in page and "<td>1.50</td>" in page  # metric and p50, as report.md writes them
    images = _images(page)
    assert len(images) == 2 and all(image.startswith(b"\x89PNG\r\n\x1a\n") for image in images)  # scatter, sizes
    assert "test cpu" in page and "<script" not in page and "http" not in page
    assert "Is it faster?" not in page and "<h2>Method</h2>" not in page  # no verdicts, no method blocks


def test_optional_sections_appear_with_their_data() -> None:
    sensitivity = [{"name": f"conv{i}", "op_type": "Conv", "sensitivity": i / 10} for i in range(5)]
    sweep = [{"variant": f"pruned@{s}", "level": s, "top1": 0.9 - s / 2, "latency_ms": 3 - s, "batch_size": 1}
             for s in (0.25, 0.5)]  # fmt: skip
    verdict = {"variant": "int8", "backend": "onnxruntime", "device": "cpu", "batch_size": 1, "speedup": 2.0,
               "faster": True}  # fmt: skip
    page = to_html(
        _report(
            quantization={"method": "static", "sensitivity": sensitivity, "excluded": ["<Gemm>"]},
            pruning={"mode": "structured", "channels": {"conv1": [32, 16]}},
            sweep=sweep,
            verdicts=[verdict],
        )
    )
    assert len(_images(page)) == 5  # scatter, sizes, sensitivity, channels, sweep
    assert "<h2>Method</h2>" in page and "<td>static</td>" in page and "&lt;Gemm&gt;" in page
    assert "Is it faster?" in page and "<td>2.00x</td>" in page and 'class="faster"' in page


def test_write_report_puts_html_beside_markdown(tmp_path: Path) -> None:
    write_report(_report(), tmp_path / "report.json", tmp_path / "report.md")
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    write_report(_report(), tmp_path / "alone" / "report.json")  # no Markdown path: JSON only
    assert [p.name for p in (tmp_path / "alone").iterdir()] == ["report.json"]


def test_bench_command_writes_report_html(cli, tmp_path: Path) -> None:  # noqa: ANN001
    fast = ["--weights", "random", "--backend", "onnxruntime", "--batch-sizes", "1", "--max-samples", "32"]
    args = ["bench", "tiny_cnn", *fast, "--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md")]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text()
    assert "tiny_cnn" in page and len(_images(page)) == 2


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
