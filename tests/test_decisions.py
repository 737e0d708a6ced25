"""The decisions the reports and the CI gate make, on hand-worked examples: the gate's bounds and defaults,
its markdown table cell by cell, the speed verdicts at their margins, the Pareto front, and the order of
the head-to-head rounds. Pure functions, no models: the mutation run (docs/mutation.md) leans on these."""

from __future__ import annotations

from pathlib import Path

import pytest

from compressor.measurement.head_to_head import alternating_ratios
from compressor.report.compare import BOUND_SLACK, REFERENCE_BASIS, compare_files, compare_reports, to_markdown
from compressor.report.files import write_report
from compressor.report.pareto import dominates, pareto_front
from compressor.report.schema import DatasetInfo, LatencyMs, Report, ResultRow
from compressor.report.verdict import FASTER_MARGIN, SpeedVerdict, head_to_head_speedups, speed_verdicts


def _row(variant: str, p50: float, top1: float | None, backend: str = "onnxruntime", **extra: float) -> ResultRow:
    return ResultRow(
        variant=variant, precision="fp32", backend=backend, device="cpu", batch_size=1, artifact=None,
        metrics={} if top1 is None else {"top1": top1}, latency_ms=LatencyMs(p50=p50, p90=p50, p99=p50),
        fps=1000 / p50 if p50 else 0.0, size_mb=1.0, params=None, macs=None, peak_memory_mb=None, **extra,
    )  # fmt: skip


def _report(*rows: ResultRow, verdicts: list[dict] | None = None) -> Report:
    report = Report(
        model="tiny_cnn", task="classification", primary_metric="top1", dataset=DatasetInfo(name="shapes", samples=9),
        environment={}, results=list(rows),
    )  # fmt: skip
    return report if verdicts is None else report.model_copy(update={"verdicts": verdicts})


def _rows(comparison) -> dict:
    return {row.variant: row for row in comparison.rows}


# compare: the gate


def test_the_table_shows_every_kind_of_row_cell_by_cell() -> None:
    base = _report(_row("baseline", 2.0, 0.90), _row("int8", 1.0, 0.89), _row("fp16", 1.5, 0.90))
    new = _report(_row("baseline", 2.0, 0.90), _row("int8", 1.5, 0.85), _row("pruned", 1.8, 0.88))
    assert to_markdown(compare_reports(new, base)) == (
        "# tiny_cnn: top1 drop <= 1 pt, latency increase <= 10%\n"
        "\n"
        "| variant | backend | device | batch | top1 base | top1 new | drop pt | latency by | base | new | change "
        "| verdict |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        "| baseline | onnxruntime | cpu | 1 | 0.9000 | 0.9000 | +0.00 | ms, not gated (reference) | 2.00 | 2.00 "
        "| +0.0% | ok |\n"
        "| int8 | onnxruntime | cpu | 1 | 0.8900 | 0.8500 | +4.00 | ratio to baseline | 0.500 | 0.750 | +50.0% "
        "| REGRESSED: top1 -4.00 pt; latency +50.0% |\n"
        "| fp16 | onnxruntime | cpu | 1 | 0.9000 | - | - | none | - | - | - "
        "| REGRESSED: missing from the new report |\n"
        "| pruned | onnxruntime | cpu | 1 | - | 0.8800 | - | none | - | - | - | new row |\n"
        "\n"
        "2 of 4 rows regressed\n"
    )


def test_a_passing_table_says_so_and_ends_with_the_cautions() -> None:
    base = _report(_row("baseline", 2.0, 0.90, background_cpu=0.5), _row("int8", 1.0, 0.89))
    new = _report(_row("int8", 1.0, 0.8912))  # no reference row in the new report: milliseconds
    comparison = compare_reports(new, base, max_accuracy_drop=0.5, max_latency_increase=2.5)
    lines = to_markdown(comparison).splitlines()
    assert lines[0] == "# tiny_cnn: top1 drop <= 0.5 pt, latency increase <= 2.5%"
    missing = "| baseline | onnxruntime | cpu | 1 | 0.9000 | - | - | none | - | - | - "
    missing += "| REGRESSED: missing from the new report |"
    assert lines[4] == missing
    assert lines[5] == "| int8 | onnxruntime | cpu | 1 | 0.8900 | 0.8912 | -0.12 | ms | 1.00 | 1.00 | +0.0% | ok |"
    assert lines[6:8] == ["", "1 of 2 rows regressed"]
    (caution,) = lines[8:]
    assert caution.startswith("caution: baseline: 1 of 2 rows were timed while other processes used up to 50%")
    comparison.rows.pop(0)
    assert to_markdown(comparison).splitlines()[5:7] == ["", "no regression"]


def test_comparison_as_dict_carries_the_bounds_and_the_verdict() -> None:
    base = _report(_row("baseline", 2.0, 0.90), _row("int8", 1.0, 0.89))
    passing = compare_reports(base, base, 0.5, 5.0).as_dict()
    assert (passing["model"], passing["metric"], passing["max_accuracy_drop"], passing["max_latency_increase"]) == (
        "tiny_cnn",
        "top1",
        0.5,
        5.0,
    )
    assert passing["passed"] is True and passing["cautions"] == []
    assert [row["status"] for row in passing["rows"]] == ["compared", "compared"]
    failing = compare_reports(_report(_row("baseline", 2.0, 0.90)), base).as_dict()
    assert failing["passed"] is False


def test_default_bounds_are_one_point_and_ten_percent(tmp_path: Path) -> None:
    base = _report(_row("int8", 1.0, 0.900))
    for new, regressions in (
        (_report(_row("int8", 1.0, 0.885)), ["top1 -1.50 pt"]),
        (_report(_row("int8", 1.105, 0.90)), ["latency +10.5%"]),
        (_report(_row("int8", 1.1, 0.89)), []),
    ):
        assert _rows(compare_reports(new, base))["int8"].regressions == regressions
        write_report(new, tmp_path / "new.json")
        write_report(base, tmp_path / "base.json")
        assert _rows(compare_files(tmp_path / "new.json", tmp_path / "base.json"))["int8"].regressions == regressions
    # the bounds given are the bounds used
    slow = compare_files(tmp_path / "new.json", tmp_path / "base.json", 0.5, 9.0)
    assert slow.max_latency_increase == 9.0 and _rows(slow)["int8"].regressions == ["top1 -1.00 pt", "latency +10.0%"]


def test_a_bound_holds_up_to_the_float_slack_and_not_beyond() -> None:
    base = _report(_row("int8", 1.0, 0.5))
    new = _report(_row("int8", 1.25, 0.25))  # exactly 25 pt and 25%
    assert not compare_reports(new, base, 25.0 - BOUND_SLACK, 25.0 - BOUND_SLACK).regressed
    (row,) = compare_reports(new, base, 24.999999, 24.999999).rows
    assert row.regressions == ["top1 -25.00 pt", "latency +25.0%"]


def test_a_row_missing_its_metric_is_compared_on_latency_only() -> None:
    base = _report(_row("int8", 1.0, 0.90))
    (row,) = compare_reports(_report(_row("int8", 2.0, None)), base).rows
    assert (row.status, row.metric_baseline, row.metric_new, row.accuracy_drop) == ("compared", 0.90, None, None)
    assert row.regressions == ["latency +100.0%"]
    (row,) = compare_reports(base, _report(_row("int8", 1.0, None))).rows
    assert row.accuracy_drop is None and row.regressions == []


@pytest.mark.parametrize(("baseline", "new"), [(0.90, float("nan")), (float("nan"), 0.90)])
def test_a_metric_that_is_not_a_number_fails_the_gate(baseline: float, new: float) -> None:
    (row,) = compare_reports(_report(_row("int8", 1.0, new)), _report(_row("int8", 1.0, baseline))).rows
    assert row.regressions == ["top1 is not a number"]


def test_a_zero_ms_reference_falls_back_to_milliseconds_on_either_side() -> None:
    base = _report(_row("baseline", 2.0, 0.9), _row("int8", 1.0, 0.9))
    zero_new = _report(_row("baseline", 0.0, 0.9), _row("int8", 1.0, 0.9))
    assert _rows(compare_reports(zero_new, base))["int8"].latency_basis == "ms"
    assert _rows(compare_reports(base, zero_new))["int8"].latency_basis == "ms"
    # a reference faster than a millisecond still divides
    fast = _report(_row("baseline", 0.5, 0.9), _row("int8", 0.25, 0.9))
    int8 = _rows(compare_reports(fast, fast))["int8"]
    assert int8.latency_basis == "ratio to baseline" and (int8.latency_baseline, int8.latency_new) == (0.5, 0.5)


def test_the_teacher_is_the_reference_of_a_distillation_report() -> None:
    base = _report(_row("teacher", 4.0, 0.95), _row("student", 1.0, 0.90))
    new = _report(_row("teacher", 8.0, 0.95), _row("student", 2.4, 0.90))  # everything twice as slow, the student 2.4x
    rows = _rows(compare_reports(new, base))
    assert rows["student"].latency_basis == "ratio to teacher"
    assert rows["student"].latency_increase == pytest.approx(20.0) and rows["student"].regressions == ["latency +20.0%"]
    assert rows["teacher"].latency_basis == REFERENCE_BASIS and rows["teacher"].regressions == []


def test_head_to_head_needs_the_same_reference_in_both_reports() -> None:
    verdict = {"variant": "int8", "backend": "onnxruntime", "device": "cpu", "batch_size": 1, "rounds": 5}
    base = _report(_row("baseline", 2.0, 0.9), _row("int8", 1.0, 0.9), verdicts=[{**verdict, "speedup": 2.0}])
    new = _report(_row("baseline", 2.0, 0.9), _row("int8", 1.0, 0.9), verdicts=[{**verdict, "speedup": 1.6}])
    int8 = _rows(compare_reports(new, base))["int8"]  # verdicts without a "reference" key were against the baseline
    assert int8.latency_basis == "head-to-head ratio to baseline"
    assert (int8.latency_baseline, int8.latency_new) == (0.5, 0.625) and int8.regressions == ["latency +25.0%"]


# verdict: is it faster?


def _verdict(speedup: float, faster: bool, **fields) -> SpeedVerdict:
    return SpeedVerdict(
        variant="int8", backend="onnxruntime", device="cpu", batch_size=8, speedup=speedup, faster=faster, **fields
    )


def test_verdict_sentences_word_for_word() -> None:
    assert _verdict(2.0, True).sentence() == "int8 on onnxruntime (cpu, batch 8): 2.00x the baseline's speed, faster"
    assert _verdict(1.0, False, reference="teacher", rounds=5).sentence() == (
        "int8 on onnxruntime (cpu, batch 8): 1.00x the teacher's speed (head to head, 5 rounds), no faster"
    )
    assert _verdict(0.5, False).sentence().endswith("0.50x the baseline's speed, slower")
    # slower means more than the margin slower: exactly 1/1.05 is within the noise
    assert _verdict(1 / FASTER_MARGIN, False).sentence().endswith(", no faster")
    assert _verdict(0.95, False).sentence().endswith(", slower")


def test_faster_starts_exactly_at_the_margin() -> None:
    rows = [_row("baseline", 2.1, 0.9), _row("int8", 2.0, 0.9)]  # 2.1 / 2.0 = 1.05
    (verdict,) = speed_verdicts(rows)
    assert verdict.speedup == 1.05 and verdict.faster and verdict.rounds == 0 and verdict.reference == "baseline"
    (verdict,) = speed_verdicts(rows, head_to_head={("int8", "onnxruntime", "cpu", 1): [1.05]})
    assert verdict.faster and verdict.rounds == 1 and verdict.rows_speedup == 1.05


def test_verdicts_against_a_teacher_name_it() -> None:
    rows = [_row("teacher", 3.0, 0.9), _row("student", 1.0, 0.9), _row("baseline", 1.0, 0.9)]
    verdicts = speed_verdicts(rows, baseline="teacher")
    assert [(v.variant, v.reference, v.speedup, v.faster) for v in verdicts] == [
        ("student", "teacher", 3.0, True),
        ("baseline", "teacher", 3.0, True),
    ]


def test_head_to_head_speedups_read_only_timed_verdicts() -> None:
    key = {"backend": "onnxruntime", "device": "cpu", "batch_size": 1}
    report = _report(
        verdicts=[
            {"variant": "int8", **key, "speedup": 1.4, "rounds": 5},  # no "reference": the baseline
            {"variant": "student", "reference": "teacher", **key, "speedup": 2.0, "rounds": 3},
            {"variant": "fp16", **key, "speedup": 1.2, "rounds": 0},  # from the rows, not timed head to head
            {"variant": "pruned", **key, "speedup": 0.0, "rounds": 5},  # no speed-up recorded
        ]
    )
    assert head_to_head_speedups(report) == {
        ("int8", "baseline", "onnxruntime", "cpu", 1): 1.4,
        ("student", "teacher", "onnxruntime", "cpu", 1): 2.0,
    }
    assert head_to_head_speedups(_report()) == {}
    assert head_to_head_speedups(_report(verdicts=[])) == {}


# pareto


def test_dominates_needs_at_least_as_good_everywhere_and_better_somewhere() -> None:
    up_down = (True, False)  # accuracy up, latency down
    assert dominates((0.9, 1.0), (0.8, 2.0), up_down)
    assert dominates((0.9, 1.0), (0.9, 2.0), up_down)  # tie on accuracy, faster
    assert dominates((0.9, 1.0), (0.8, 1.0), up_down)  # tie on latency, more accurate
    assert not dominates((0.9, 1.0), (0.9, 1.0), up_down)  # equal: neither beats the other
    assert not dominates((0.9, 2.0), (0.8, 1.0), up_down)  # a trade-off
    assert not dominates((0.8, 2.0), (0.9, 1.0), up_down)
    assert dominates((1.0, 1.0), (2.0, 2.0), (False, False)) and not dominates((1.0, 1.0), (2.0, 2.0), (True, True))
    # a `maximize` of the wrong length is an error, whichever objective decides first
    for a, b in (((1.0, 2.0), (1.0, 2.0)), ((2.0, 1.0), (1.0, 1.0)), ((0.0, 1.0), (1.0, 1.0))):
        with pytest.raises(ValueError):
            dominates(a, b, (True,))


def test_pareto_front_keeps_input_order_and_duplicates() -> None:
    points = [(0.80, 1.0), (0.95, 3.0), (0.90, 2.0), (0.85, 2.5), (0.95, 3.0), (0.70, 1.0)]
    # (0.85, 2.5) loses to (0.90, 2.0); (0.70, 1.0) to (0.80, 1.0); the two (0.95, 3.0) tie and both stay
    assert pareto_front(points, (True, False)) == [0, 1, 2, 4]
    assert pareto_front(points, (False, True)) == [1, 3, 4, 5]  # the other way round: least accurate, slowest
    assert pareto_front([(1.0,)], (True,)) == [0]


# head to head: whose turn it is


def test_rounds_alternate_who_goes_first() -> None:
    log: list[str] = []

    def side(name: str, seconds: float):
        def timing() -> float:
            log.append(name)
            return seconds

        return timing

    assert alternating_ratios(side("ref", 3.0), side("cand", 2.0), 4) == [1.5, 1.5, 1.5, 1.5]
    assert log == ["ref", "cand", "cand", "ref", "ref", "cand", "cand", "ref"]
    assert alternating_ratios(side("ref", 3.0), side("cand", 2.0), 0) == []
