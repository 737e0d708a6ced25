"""report.html: the report for people to look at. One self-contained file (figures embedded as PNG data,
inline CSS, no scripts, nothing fetched), so it opens anywhere, as a CI artifact too.

Figures: accuracy against latency for every row with the Pareto front, size per variant, and where the
report has them, per-layer int8 sensitivity, the channels pruning kept per layer and a prune sweep.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from typing import Any

from compressor.report.pareto import pareto_front
from compressor.report.schema import Report, results_markdown, search_markdown
from compressor.report.verdict import SpeedVerdict

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1240px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
td { white-space: nowrap; } th { background: #f2f2f2; } tbody tr:nth-child(even) { background: #fafafa; }
table.results td:nth-child(-n+4), table.results th:nth-child(-n+4), table.keys td, table.keys th { text-align: left; }
td.faster { color: #1a7f37; font-weight: 600; } td.slower { color: #b42318; font-weight: 600; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 1em; }
figure { margin: 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
.scroll { overflow-x: auto; }
.note { color: #555; font-size: 0.9em; } .method { display: inline-block; vertical-align: top; margin-right: 2em; }
"""
SCATTER_CAPTION = (
    "Each row's primary metric against its p50 latency. Circled points joined by a dashed line form the Pareto "
    "front: nothing else in their backend, device and batch size is both more accurate and faster."
)
SIZE_CAPTION = "Size per variant: torch rows count weight bytes, ONNX rows the file."
OP_TIMES_CAPTION = (
    "Kernel time per op type of each ONNX file (onnxruntime's profiler, CPU); for int8: where it gains, "
    "and what it adds (quantize and dequantize steps, layout transposes, ops left in float)."
)
BAR_INCH = 0.32  # height per bar, so bar charts grow with their rows instead of stretching a few bars


def _figure(draw: Callable[[Any], None], size: tuple[float, float] = (6.4, 4.4)) -> str:
    """A matplotlib figure drawn by `draw(axes)` in memory (Agg: no display needed), as a PNG data URI."""
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


def _bars_height(count: int) -> float:
    return min(12.0, 1.4 + BAR_INCH * count)


def _scatter(report: Report) -> Callable[[Any], None]:
    metric = report.primary_metric
    rows = [row for row in report.results if metric in row.metrics]

    def draw(axes: Any) -> None:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        groups = sorted({(row.backend, row.device, row.batch_size) for row in rows})
        for index, group in enumerate(groups):
            colour, marker = f"C{index % 10}", "osD^v<>p*h"[index % 10]
            members = [row for row in rows if (row.backend, row.device, row.batch_size) == group]
            points = [(r.metrics[metric], r.latency_ms.p50) for r in members]
            axes.scatter([p[1] for p in points], [p[0] for p in points], color=colour, marker=marker,
                         label=f"{group[0]} {group[1]} batch {group[2]}")  # fmt: skip
            for row, (value, latency) in zip(members, points, strict=True):
                axes.annotate(row.variant, (latency, value), textcoords="offset points", xytext=(4, 4), fontsize=8)
            front = sorted((points[i] for i in pareto_front(points, maximize=(True, False))), key=lambda p: p[1])
            axes.scatter([p[1] for p in front], [p[0] for p in front], s=160, facecolors="none", edgecolors=colour)
            axes.step([p[1] for p in front], [p[0] for p in front], where="post", color=colour, linestyle="--")
        axes.plot([], [], "k--", marker="o", markerfacecolor="none", markersize=10, label="Pareto front (per group)")
        latencies = [row.latency_ms.p50 for row in rows]
        if latencies and min(latencies) > 0 and max(latencies) > 10 * min(latencies):
            axes.set_xscale("log")  # batch sizes and backends spread latency over decades; linear piles them up
            axes.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axes.xaxis.set_minor_formatter(NullFormatter())
        axes.margins(x=0.15, y=0.1)  # room for the labels of the outermost points
        axes.set_xlabel("latency p50 (ms)")
        axes.set_ylabel(metric)
        axes.set_title(f"{metric} against latency (up and left is better)")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)  # below: never on a point

    return draw


def _size_rows(report: Report) -> dict[str, Any]:
    """One row per variant and artifact kind (torch weights, ONNX file): sizes do not change with batch."""
    first: dict[str, Any] = {}
    for row in report.results:
        first.setdefault(f"{row.variant} ({row.backend})", row)
    return first


def _sizes(first: dict[str, Any]) -> Callable[[Any], None]:
    def draw(axes: Any) -> None:
        labels = list(first)
        axes.barh(labels, [first[label].size_mb for label in labels], color="C0", label="size")
        packed = [(first[label].model_extra or {}).get("compressed_size_mb") for label in labels]
        if any(value is not None for value in packed):
            axes.barh(labels, [value or 0 for value in packed], height=0.4, color="C1", label="compressed (deflate)")
            axes.legend(fontsize=7)
        axes.set_xlabel("MB")
        axes.set_title("size")
        axes.invert_yaxis()

    return draw


def _sensitivity(top: list[dict[str, Any]]) -> Callable[[Any], None]:
    def draw(axes: Any) -> None:
        axes.barh([layer["name"] for layer in top], [layer["sensitivity"] for layer in top], color="C1")
        axes.set_xlabel("relative output error with only this layer in int8")
        axes.set_title(f"per-layer int8 sensitivity (top {len(top)})")
        axes.invert_yaxis()
        axes.tick_params(axis="y", labelsize=8)

    return draw


def _channels(channels: dict[str, list[int]]) -> Callable[[Any], None]:
    def draw(axes: Any) -> None:
        names = list(channels)
        axes.barh(names, [channels[name][0] for name in names], color="#ccc", label="before")
        axes.barh(names, [channels[name][1] for name in names], color="C2", label="after")
        axes.set_xlabel("output channels")
        axes.set_ylabel("layer")
        axes.set_title("channels kept per layer")
        axes.invert_yaxis()
        axes.tick_params(axis="y", labelsize=7)
        axes.legend(fontsize=7)

    return draw


def _op_times(op_times: dict[str, Any], shown: int = 15) -> tuple[Callable[[Any], None], int]:
    """Paired bars: each op type's kernel time in the fp32 and the int8 file (the largest first)."""
    models = [key for key in op_times if key != "batch_size"]
    both = {op: [op_times[model].get(op, 0.0) for model in models] for model in models for op in op_times[model]}
    names = sorted(both, key=lambda op: max(both[op]), reverse=True)[:shown]

    def draw(axes: Any) -> None:
        height = 0.8 / len(models)
        for index, model in enumerate(models):
            offsets = [row + index * height for row in range(len(names))]
            axes.barh(offsets, [both[op][index] for op in names], height=height, color=f"C{index}", label=model)
        axes.set_yticks([row + height * (len(models) - 1) / 2 for row in range(len(names))], names)
        axes.set_xlabel(f"kernel ms per run, batch {op_times.get('batch_size')}")
        axes.set_title("where onnxruntime's time goes, by op type")
        axes.invert_yaxis()
        axes.tick_params(axis="y", labelsize=7)
        axes.legend(fontsize=7)

    return draw, len(names)


def _sweep_levels(report: Report, sweep: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sweep's levels, led by the unpruned baseline as level 0 (the same backend and batch) when the
    report has that row: what each level costs is read against it."""
    batch = sweep[0].get("batch_size")
    metric = report.primary_metric
    base = [
        row
        for row in report.results
        if (row.variant, row.backend, row.batch_size) == ("baseline", "onnxruntime", batch) and metric in row.metrics
    ]
    if not base:
        return sweep
    unpruned = {"level": 0, metric: base[0].metrics[metric], "latency_ms": base[0].latency_ms.p50, "batch_size": batch}
    return [unpruned, *sweep]


def _sweep(levels: list[dict[str, Any]], metric: str) -> Callable[[Any], None]:
    def draw(axes: Any) -> None:
        x = [level["level"] for level in levels]
        axes.plot(x, [level[metric] for level in levels], "o-", color="C0", label=metric)
        axes.set_xlabel("pruning level")
        axes.set_ylabel(metric, color="C0")
        latency = axes.twinx()
        latency.plot(x, [level["latency_ms"] for level in levels], "s--", color="C3", label="latency p50")
        latency.set_ylabel(f"latency p50 (ms, batch {levels[0].get('batch_size')})", color="C3")
        axes.set_title("prune sweep: accuracy and latency per level")
        axes.grid(alpha=0.3)

    return draw


def _figures(report: Report) -> list[tuple[str, str]]:
    """(data URI, caption) for each figure the report has data for."""
    extra = report.model_extra or {}
    sizes = _size_rows(report)
    figures = [
        (_figure(_scatter(report), (6.4, 5.0)), SCATTER_CAPTION),
        (_figure(_sizes(sizes), (6.4, _bars_height(len(sizes)))), SIZE_CAPTION),
    ]
    sensitivity = (extra.get("quantization") or {}).get("sensitivity")
    if sensitivity:
        top = sorted(sensitivity, key=lambda layer: layer["sensitivity"], reverse=True)[:20]
        figure = _figure(_sensitivity(top), (6.4, _bars_height(len(top))))
        figures.append((figure, "Layers whose int8 error is largest."))
    op_times = (extra.get("quantization") or {}).get("op_time_ms") or extra.get("op_time_ms")
    if op_times:
        draw, count = _op_times(op_times)
        figures.append((_figure(draw, (6.4, _bars_height(2 * count))), OP_TIMES_CAPTION))
    channels = dict(list(((extra.get("pruning") or {}).get("channels") or {}).items())[:40])
    if channels:
        figure = _figure(_channels(channels), (6.4, _bars_height(len(channels))))
        figures.append((figure, "Output channels before and after pruning."))
    sweep = extra.get("sweep")
    if sweep:
        figures.append(
            (_figure(_sweep(_sweep_levels(report, sweep), report.primary_metric)),
             "Each sweep level, pruned from the original (level 0: the baseline), on onnxruntime."),
        )  # fmt: skip
    return figures


def _table(markdown: str) -> str:
    """A Markdown table of `compressor.report.schema`, as HTML (one source for both formats)."""
    rows = [line for line in markdown.splitlines() if line.startswith("|") and not line.startswith("|---")]
    cells = [[html.escape(cell.strip()) for cell in row.strip("|").split("|")] for row in rows]
    head = "".join(f"<th>{cell}</th>" for cell in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in cells[1:])
    table = f'<table class="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    return f'<div class="scroll">{table}</div>'  # wide tables scroll instead of widening the page


def _keys(values: dict[str, Any]) -> str:
    """A two-column table of a block's plain values; lists of plain values joined, nested data left out."""
    plain = {
        key: ", ".join(map(str, value)) if isinstance(value, list) else value
        for key, value in values.items()
        if not isinstance(value, dict) and not (isinstance(value, list) and any(isinstance(v, dict) for v in value))
    }
    items = "".join(
        f"<tr><td>{html.escape(str(key))}</td><td>{html.escape(str(value)) or '-'}</td></tr>"
        for key, value in plain.items()
    )
    return f'<table class="keys"><tbody>{items}</tbody></table>'


def _methods(report: Report) -> str:
    """The settings of the compression methods the report ran (quantization, pruning, distillation)."""
    extra = report.model_extra or {}
    blocks = [
        f'<div class="method"><h3>{name}</h3>{_keys(extra[name])}</div>'
        for name in ("quantization", "pruning", "distillation")
        if isinstance(extra.get(name), dict) and extra[name]
    ]
    return "<h2>Method</h2>" + "".join(blocks) if blocks else ""


def _verdicts(verdicts: list[SpeedVerdict]) -> str:
    if not verdicts:
        return ""
    names = ("variant", "against", "backend", "device", "batch", "speedup", "timed", "")
    head = "".join(f"<th>{name}</th>" for name in names)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in (v.variant, v.reference, v.backend, v.device))
        + f"<td>{v.batch_size}</td><td>{v.speedup:.2f}x</td>"
        + f"<td>{f'head to head, {v.rounds} rounds' if v.rounds else 'rows (p50)'}</td>"
        + (f'<td class="{"faster" if v.faster else "slower"}">{"faster" if v.faster else "not faster"}</td></tr>')
        for v in verdicts
    )
    return f'<h2>Is it faster?</h2><table class="keys"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _search(report: Report) -> str:
    search = (report.model_extra or {}).get("search")
    if not isinstance(search, dict) or not search.get("candidates"):
        return ""
    markdown = search_markdown(search, report.primary_metric)
    title, *_, pick = [line for line in markdown.splitlines() if line]  # the heading and the closing line
    return f"<h2>{html.escape(title.removeprefix('## '))}</h2>{_table(markdown)}<p>{html.escape(pick)}</p>"


def to_html(report: Report) -> str:
    """The whole page; every piece of report text goes through html.escape."""
    title = f"{report.model}: {report.task} on {report.dataset.name}"
    verdicts = [SpeedVerdict.model_validate(v) for v in (report.model_extra or {}).get("verdicts") or []]
    said = {verdict.sentence() for verdict in verdicts}  # the notes repeat them; the table already shows them
    figures = "".join(
        f'<figure><img src="{uri}" alt="{html.escape(text)}"><figcaption>{html.escape(text)}</figcaption></figure>'
        for uri, text in _figures(report)
    )
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in report.notes if note not in said)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="note">primary metric {html.escape(report.primary_metric)};
{report.dataset.samples} {html.escape(report.dataset.split)} samples; {html.escape(report.schema_)}</p>
<h2>Results</h2>
{_table(results_markdown(report))}
{_verdicts(verdicts)}
{_search(report)}
<h2>Figures</h2>
<div class="figures">{figures}</div>
{_methods(report)}
<h2>Environment</h2>
{_keys(report.environment)}
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
</body></html>
"""
