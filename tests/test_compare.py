"""`compress compare`, the CI gate: exit 0 within bounds, 1 with the regressed rows named, 2 for bad files;
latency as same-run ratios where a reference row exists, so a uniformly slower machine is no regression."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compressor import commands
from compressor.cli import app
from compressor.report.compare import REFERENCE_BASIS, compare_reports
from compressor.report.files import write_report
from compressor.report.schema import DatasetInfo, LatencyMs, Report, ResultRow


def _row(variant: str, p50: float, top1: float, batch: int = 1) -> ResultRow:
    return ResultRow(
        variant=variant, precision="int8" if variant == "int8" else "fp32", backend="onnxruntime", device="cpu",
        batch_size=batch, artifact=None, metrics={"top1": top1}, latency_ms=LatencyMs(p50=p50, p90=p50, p99=p50),
        fps=1000 / p50, size_mb=1.0, params=10, macs=100, peak_memory_mb=1.0,
    )  # fmt: skip


def _report(rows: list[ResultRow], model: str = "tiny_cnn", metric: str = "top1") -> Report:
    return Report(
        model=model, task="classification", primary_metric=metric, dataset=DatasetInfo(name="shapes", samples=100),
        environment={}, results=rows,
    )  # fmt: skip


def _write(path: Path, report: Report) -> str:
    write_report(report, path)
    return str(path)


BASE = _report([_row("baseline", 2.0, 0.90), _row("int8", 1.0, 0.89)])


def test_within_bounds_exits_0(tmp_path: Path, cli) -> None:
    new = _report([_row("baseline", 2.1, 0.90), _row("int8", 1.02, 0.885)])
    args = ["compare", _write(tmp_path / "new.json", new), "--baseline", _write(tmp_path / "base.json", BASE)]
    result = cli.invoke(app, [*args, "--json", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    assert "no regression" in result.stdout
    assert json.loads((tmp_path / "c.json").read_text())["passed"] is True


def test_accuracy_and_latency_regressions_exit_1_and_are_named(tmp_path: Path, cli) -> None:
    new = _report([_row("baseline", 2.0, 0.90), _row("int8", 1.5, 0.85)])  # int8: -4 pt and 1.5x slower
    args = ["compare", _write(tmp_path / "new.json", new), "--baseline", _write(tmp_path / "base.json", BASE)]
    result = cli.invoke(app, [*args, "--max-accuracy-drop", "1", "--max-latency-increase", "10"])
    assert result.exit_code == 1
    (line,) = [line for line in result.stdout.splitlines() if "REGRESSED" in line]
    assert line.startswith("| int8 |") and "top1 -4.00 pt" in line and "latency +50.0%" in line


def test_a_uniformly_slower_machine_is_no_regression(tmp_path: Path, cli) -> None:
    slower = _report([_row("baseline", 4.0, 0.90), _row("int8", 2.0, 0.89)])  # everything 2x: the ratio holds
    comparison = compare_reports(slower, BASE, 1.0, 10.0)
    int8 = next(row for row in comparison.rows if row.variant == "int8")
    assert int8.latency_basis == "ratio to baseline" and int8.latency_increase == pytest.approx(0.0)
    baseline = next(row for row in comparison.rows if row.variant == "baseline")
    assert baseline.latency_basis == REFERENCE_BASIS and baseline.latency_increase == pytest.approx(100.0)
    assert baseline.regressions == []  # the divisor of the ratios: shown in ms, not gated
    args = ["compare", _write(tmp_path / "new.json", slower), "--baseline", _write(tmp_path / "base.json", BASE)]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "| int8 | onnxruntime | cpu | 1 |" in result.stdout and "ratio to baseline" in result.stdout


def test_the_lost_speedup_of_a_variant_fails_on_a_faster_machine() -> None:
    faster = _report([_row("baseline", 1.0, 0.90), _row("int8", 1.0, 0.89)])  # raw ms 1.0 = base's 1.0, ratio 2x
    (int8,) = [row for row in compare_reports(faster, BASE).rows if row.variant == "int8"]
    assert int8.regressions == ["latency +100.0%"]


def test_head_to_head_verdicts_are_compared_where_both_reports_have_them() -> None:
    def timed(report: Report, speedup: float, rounds: int = 5) -> Report:
        verdict = {"variant": "int8", "reference": "baseline", "backend": "onnxruntime", "device": "cpu",
                   "batch_size": 1, "speedup": speedup, "faster": speedup >= 1.05, "rounds": rounds}  # fmt: skip
        return report.model_copy(update={"verdicts": [verdict]})

    # the rows say 2x in both; head to head the new report lost a third of its speed-up
    rows = {row.variant: row for row in compare_reports(timed(BASE, 1.5), timed(BASE, 2.25)).rows}
    assert rows["int8"].latency_basis == "head-to-head ratio to baseline"
    assert rows["int8"].regressions == ["latency +50.0%"]
    assert rows["baseline"].latency_basis == REFERENCE_BASIS  # still the divisor, shown, not gated
    (int8,) = [row for row in compare_reports(timed(BASE, 1.5), BASE).rows if row.variant == "int8"]
    assert int8.latency_basis == "ratio to baseline" and not int8.regressions  # one report without: the rows


def test_without_a_reference_row_raw_ms_are_gated() -> None:
    base, new = _report([_row("int8", 1.0, 0.89)]), _report([_row("int8", 1.2, 0.89)])
    (row,) = compare_reports(new, base).rows
    assert row.latency_basis == "ms" and row.regressions == ["latency +20.0%"]
    only_baseline = _report([_row("baseline", 2.0, 0.90)])  # a bench report: the reference alone is gated in ms
    (row,) = compare_reports(_report([_row("baseline", 2.6, 0.90)]), only_baseline).rows
    assert row.latency_basis == "ms" and row.regressions == ["latency +30.0%"]


def test_a_change_equal_to_its_bound_passes() -> None:
    new = _report([_row("baseline", 2.0, 0.90), _row("int8", 1.1, 0.88)])  # exactly -1 pt and +10%
    assert not compare_reports(new, BASE, 1.0, 10.0).regressed
    assert compare_reports(new, BASE, 0.99, 9.99).regressed


def test_zero_latency_is_shown_not_divided_by() -> None:
    base = _report([_row("baseline", 2.0, 0.90), _row("int8", 1.0, 0.89)])
    base.results[0].latency_ms.p50 = 0.0
    base.results[1].latency_ms.p50 = 0.0
    rows = compare_reports(BASE, base).rows
    assert all(row.latency_increase is None and not row.regressions for row in rows)


def test_missing_rows_regress_and_new_rows_are_listed() -> None:
    new = _report([_row("baseline", 2.0, 0.90), _row("fp16", 1.8, 0.90)])
    comparison = compare_reports(new, BASE)
    status = {row.variant: (row.status, row.regressions) for row in comparison.rows}
    assert status["int8"] == ("missing", ["missing from the new report"])
    assert status["fp16"] == ("new", [])


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "report not found"), ("{", "not a compressor report"), ('{"schema": 1}', "not a compressor report")],
)
def test_bad_files_exit_2_with_one_line(content: str | None, message: str, tmp_path: Path, cli) -> None:
    new = tmp_path / "new.json"
    if content is not None:
        new.write_text(content)
    result = cli.invoke(app, ["compare", str(new), "--baseline", _write(tmp_path / "base.json", BASE)])
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": "resnet18"}, "different things: model 'resnet18'"),
        ({"primary_metric": "top5"}, "different things: primary metric 'top5'"),
        ({"dataset": DatasetInfo(name="imagefolder", samples=100)}, "different things: dataset 'imagefolder'"),
    ],
)
def test_reports_of_different_things_are_refused(changes: dict, message: str, tmp_path: Path, cli) -> None:
    other = BASE.model_copy(update=changes)
    args = ["compare", _write(tmp_path / "new.json", other), "--baseline", _write(tmp_path / "base.json", BASE)]
    result = cli.invoke(app, args, terminal_width=400)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_real_reports_compare(trained_tiny: Path, tmp_path: Path, cli) -> None:
    report = commands.bench(str(trained_tiny), backends=["onnxruntime"], batch_sizes=[1], max_samples=200)
    base = _write(tmp_path / "base.json", report)
    assert cli.invoke(app, ["compare", base, "--baseline", base]).exit_code == 0
    worse = report.model_copy(deep=True)
    for row in worse.results:
        row.metrics[report.primary_metric] -= 0.05
    result = cli.invoke(app, ["compare", _write(tmp_path / "worse.json", worse), "--baseline", base])
    assert result.exit_code == 1 and "-5.00 pt" in result.stdout


def test_a_report_timed_on_a_busy_machine_is_flagged_but_still_compared(tmp_path: Path, cli) -> None:
    busy = [row.model_copy(update={"background_cpu": 0.6}) for row in BASE.results]
    new = _report([*busy[:1], BASE.results[1]])
    comparison = compare_reports(new, BASE, 1.0, 10.0)
    assert not comparison.regressed
    (caution,) = comparison.cautions
    assert caution.startswith("new: 1 of 2 rows") and "up to 60%" in caution
    args = ["compare", _write(tmp_path / "new.json", new), "--baseline", _write(tmp_path / "base.json", BASE)]
    result = cli.invoke(app, args)
    assert result.exit_code == 0 and "caution: new: 1 of 2 rows" in result.stdout
