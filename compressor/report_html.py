"""report.html: the report for people to look at. One self-contained file (figures embedded as PNG data,
inline CSS, no scripts, nothing fetched), so it opens anywhere, as a CI artifact too.

Figures: accuracy against latency for every row with the Pareto front, size per variant, and where the
report has them, per-layer int8 sensitivity and the channels pruning kept per layer.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from typing import Any

from compressor.pareto import pareto_front
from compressor.report import Report, to_markdown

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figcaption { font-size: 0.85em; color: #555; max-width: 560px; }
.note { color: #555; font-size: 0.9em; }
"""


def _figure(draw: Callable[[Any], None], size: tuple[float, float] = (6.4, 4.4)) -> str:
    """A matplotlib figure drawn by `draw(axes)`, as a PNG data URI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=size, dpi=100)
    try:
        draw(axes)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _scatter(report: Report) -> Callable[[Any], None]:
    metric = report.primary_metric
    rows = [row for row in report.results if metric in row.metrics]

    def draw(axes: Any) -> None:
        groups = sorted({(row.backend, row.device, row.batch_size) for row in rows})
        for marker, group in zip("osD^v<>p*h", groups, strict=False):
            members = [row for row in rows if (row.backend, row.device, row.batch_size) == group]
            label = f"{group[0]} {group[1]} batch {group[2]}"
            axes.scatter([r.latency_ms.p50 for r in members], [r.metrics[metric] for r in members], marker=marker,
                         label=label)  # fmt: skip
            for row in members:
                axes.annotate(row.variant, (row.latency_ms.p50, row.metrics[metric]), textcoords="offset points",
                              xytext=(4, 4), fontsize=8)  # fmt: skip
            points = [(r.metrics[metric], r.latency_ms.p50) for r in members]
            front = sorted((points[i] for i in pareto_front(points, maximize=(True, False))), key=lambda p: p[1])
            if len(front) > 1:
                axes.step([p[1] for p in front], [p[0] for p in front], where="post", alpha=0.5, linestyle="--")
        axes.plot([], [], "k--", alpha=0.5, label="Pareto front (per group)")
        axes.set_xlabel("latency p50 (ms)")
        axes.set_ylabel(metric)
        axes.set_title(f"{metric} against latency")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)

    return draw


def _sizes(report: Report) -> Callable[[Any], None]:
    first: dict[str, Any] = {}
    for row in report.results:  # one bar per variant and artifact kind: torch weights, ONNX file
        first.setdefault(f"{row.variant} ({row.backend})", row)

    def draw(axes: Any) -> None:
        labels = list(first)
        axes.barh(labels, [first[label].size_mb for label in labels], label="size")
        packed = [(first[label].model_extra or {}).get("compressed_size_mb") for label in labels]
        if any(value is not None for value in packed):
            axes.barh(labels, [value or 0 for value in packed], height=0.4, label="compressed (deflate)")
            axes.legend(fontsize=7)
        axes.set_xlabel("MB")
        axes.set_title("size")
        axes.invert_yaxis()

    return draw


def _sensitivity(layers: list[dict[str, Any]]) -> Callable[[Any], None]:
    top = sorted(layers, key=lambda layer: layer["sensitivity"], reverse=True)[:20]

    def draw(axes: Any) -> None:
        axes.barh([layer["name"] for layer in top], [layer["sensitivity"] for layer in top], color="tab:orange")
        axes.set_xlabel("relative output error with only this layer in int8")
        axes.set_title("per-layer int8 sensitivity (top 20)")
        axes.invert_yaxis()
        axes.tick_params(axis="y", labelsize=7)

    return draw


def _channels(channels: dict[str, list[int]]) -> Callable[[Any], None]:
    names = list(channels)[:40]

    def draw(axes: Any) -> None:
        axes.barh(names, [channels[name][0] for name in names], color="#ccc", label="before")
        axes.barh(names, [channels[name][1] for name in names], color="tab:green", label="after")
        axes.set_xlabel("output channels")
        axes.set_title("channels kept per layer")
        axes.invert_yaxis()
        axes.tick_params(axis="y", labelsize=6)
        axes.legend(fontsize=7)

    return draw


def _figures(report: Report) -> list[tuple[str, str]]:
    extra = report.model_extra or {}
    figures = [
        (_figure(_scatter(report)), "Each row's primary metric against its p50 latency; a dashed line joins the rows "
         "that nothing else beats on both (the Pareto front) within each backend, device and batch size."),
        (_figure(_sizes(report)), "Size per variant: torch rows count weight bytes, ONNX rows the file."),
    ]  # fmt: skip
    sensitivity = (extra.get("quantization") or {}).get("sensitivity")
    if sensitivity:
        figures.append((_figure(_sensitivity(sensitivity), (7.5, 5.5)), "Layers whose int8 error is largest."))
    channels = (extra.get("pruning") or {}).get("channels")
    if channels:
        figures.append((_figure(_channels(channels), (7.5, 6.5)), "Output channels before and after pruning."))
    return figures


def _table(markdown: str) -> str:
    """The Markdown table of `to_markdown`, as HTML (one source for both formats)."""
    rows = [line for line in markdown.splitlines() if line.startswith("|") and not line.startswith("|---")]
    cells = [[html.escape(cell.strip()) for cell in row.strip("|").split("|")] for row in rows]
    head = "".join(f"<th>{cell}</th>" for cell in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in cells[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _environment(report: Report) -> str:
    items = "".join(
        f"<tr><td>{html.escape(str(key))}</td><td>{html.escape(str(value))}</td></tr>"
        for key, value in report.environment.items()
    )
    return f"<table><tbody>{items}</tbody></table>"


def _verdicts(report: Report) -> str:
    verdicts = (report.model_extra or {}).get("verdicts") or []
    items = "".join(
        f"<li>{html.escape(str(v.get('variant')))} on {html.escape(str(v.get('backend')))} "
        f"(batch {html.escape(str(v.get('batch_size')))}): {float(v.get('speedup', 0)):.2f}x, "
        f"{'faster' if v.get('faster') else 'not faster'}</li>"
        for v in verdicts
    )
    return f"<h2>Is it faster?</h2><ul>{items}</ul>" if items else ""


def to_html(report: Report) -> str:
    title = f"{report.model} on {report.dataset.name}"
    figures = "".join(
        f'<figure><img src="{uri}" alt="{html.escape(text)}"><figcaption>{html.escape(text)}</figcaption></figure>'
        for uri, text in _figures(report)
    )
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in report.notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="note">task {html.escape(report.task)}, primary metric {html.escape(report.primary_metric)},
{report.dataset.samples} {html.escape(report.dataset.split)} samples</p>
<h2>Results</h2>
{_table(to_markdown(report))}
{_verdicts(report)}
<h2>Figures</h2>
{figures}
<h2>Environment</h2>
{_environment(report)}
{f'<h2>Notes</h2><ul>{notes}</ul>' if notes else ''}
</body></html>
"""
