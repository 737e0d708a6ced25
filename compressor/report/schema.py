"""The report contract (`compressor.report/1`): what CI pipelines and users parse. Keep the keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compressor.core.errors import InputFileError

SCHEMA = "compressor.report/1"


REFERENCE_VARIANTS = ("baseline", "teacher")  # the rows others are measured against (distillation: teacher)


class DatasetInfo(BaseModel):
    name: str
    split: str = "val"
    samples: int


class LatencyMs(BaseModel):
    p50: float
    p90: float
    p99: float


class ResultRow(BaseModel):
    """One (variant, backend, device, batch size) measurement. Later methods add keys (e.g. sparsity)."""

    model_config = ConfigDict(extra="allow")

    variant: str
    precision: str
    backend: str
    device: str
    batch_size: int
    artifact: str | None
    metrics: dict[str, float]
    latency_ms: LatencyMs
    fps: float
    size_mb: float
    params: int | None
    macs: int | None
    peak_memory_mb: float | None


class Report(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    schema_: str = Field(default=SCHEMA, alias="schema")
    model: str
    task: str
    primary_metric: str
    dataset: DatasetInfo
    environment: dict[str, Any]
    results: list[ResultRow]
    notes: list[str] = Field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True, mode="json"), indent=2) + "\n"


# Rows timed while other processes used more than this share of the machine's CPU are flagged.
BUSY_MACHINE_SHARE = 0.25


def busy_machine_note(rows: list[ResultRow]) -> str | None:
    """A caution when rows were timed on a busy machine (their `background_cpu`), else None."""
    shares = [(row.model_extra or {}).get("background_cpu") or 0.0 for row in rows]
    busy = [share for share in shares if share > BUSY_MACHINE_SHARE]
    if not busy:
        return None
    return (
        f"{len(busy)} of {len(rows)} rows were timed while other processes used up to {max(busy):.0%} of this "
        "machine's CPU (background_cpu): their latencies may be inflated; time on an idle machine"
    )


def _fmt(value: float | int | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


# Keys that some rows carry (prune's; torch rows on CUDA), shown as columns when present: key -> (title, format).
OPTIONAL_COLUMNS = {
    "sparsity": ("sparsity", ".4f"),
    "compressed_size_mb": ("compressed MB", ".2f"),
    "cuda_graph_latency_ms": ("CUDA graph p50 ms", ".2f"),
}


def _optional_value(row: ResultRow, key: str) -> float | None:
    """A row's optional column; of a latency (p50/p90/p99), its p50."""
    value = (row.model_extra or {}).get(key)
    return value["p50"] if isinstance(value, dict) else value


def to_markdown(report: Report) -> str:
    """The report for people: the results table, then a search's candidates when the report holds one."""
    search = (report.model_extra or {}).get("search")
    if not isinstance(search, dict) or not search.get("candidates"):
        return results_markdown(report)
    return results_markdown(report) + "\n" + search_markdown(search, report.primary_metric)


def search_markdown(search: dict[str, Any], metric: str) -> str:
    """What a search (`compress run` with `search:`, `--auto`) tried, and which one it picked."""
    header = ["candidate", metric, "drop pt", "speed", "size MB", "within budget", "pick"]
    lines = [
        f"## Search: the fastest within {search['max_accuracy_drop']} points of {metric} "
        f"({search['backend']}, batch {search['batch_size']}, each stage head to head against its input)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for candidate in search["candidates"]:
        if candidate.get("status") != "done":
            error = " ".join(str(candidate.get("error", "")).split()).replace("|", "/")
            lines.append(f"| {candidate['name']} | - | - | - | - | - | {candidate.get('status')}: {error} |")
            continue
        cells = [
            candidate["name"],
            _fmt(candidate["metric"], ".4f"),
            _fmt(candidate["accuracy_drop"], "+.2f"),
            f"{candidate['speedup']:.2f}x",
            _fmt(candidate["size_mb"], ".2f"),
            "yes" if candidate.get("within_budget") else "no",
            "best" if candidate["name"] == search.get("best") else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    best = search.get("best")
    lines += [
        "",
        f"best: {best} (its model is in best/)" if best else "best: none faster within budget; keep the input model",
    ]
    return "\n".join(lines) + "\n"


def results_markdown(report: Report) -> str:
    """The results table: one row per measurement, the primary metric first."""
    optional = [key for key in OPTIONAL_COLUMNS if any(key in (row.model_extra or {}) for row in report.results)]
    metric_names = [report.primary_metric] + sorted(
        {name for row in report.results for name in row.metrics} - {report.primary_metric}
    )
    header = [
        "variant",
        "precision",
        "backend",
        "device",
        "batch",
        # a detector's box `precision` metric beside the row's numeric precision: two columns of one name
        *(f"{name} (metric)" if name == "precision" else name for name in metric_names),
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "FPS",
        "size MB",
        "params",
        "MACs",
        "peak mem MB",
        *(OPTIONAL_COLUMNS[key][0] for key in optional),
    ]
    lines = [
        f"# {report.model} on {report.dataset.name} ({report.dataset.split}, {report.dataset.samples} samples)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in report.results:
        cells = [row.variant, row.precision, row.backend, row.device, str(row.batch_size)]
        cells += [_fmt(row.metrics.get(name), ".4f") for name in metric_names]
        cells += [
            _fmt(row.latency_ms.p50, ".2f"),
            _fmt(row.latency_ms.p90, ".2f"),
            _fmt(row.latency_ms.p99, ".2f"),
            _fmt(row.fps, ".1f"),
            _fmt(row.size_mb, ".2f"),
            _fmt(row.params, ","),
            _fmt(None if row.macs is None else row.macs / 1e6, ".1f") + ("M" if row.macs else ""),
            _fmt(row.peak_memory_mb, ".1f"),
            *(_fmt(_optional_value(row, key), OPTIONAL_COLUMNS[key][1]) for key in optional),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    env = report.environment
    lines += [
        "",
        f"CPU: {env.get('cpu')} ({env.get('cpu_count')} cores); GPU: {env.get('gpu') or 'none'}; "
        f"torch {env.get('torch')}, onnxruntime {env.get('onnxruntime')}",
    ]
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def read_report(path: str | Path) -> Report:
    path = Path(path)
    try:
        return Report.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InputFileError(f"report not found: {path}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise InputFileError(f"{path} cannot be read as a report: {error}") from error
    except ValidationError as error:
        raise InputFileError(f"{path} is not a compressor report: {error.errors()[0]['msg']}") from error
