"""The "is it faster?" verdict: head-to-head rounds (else ratios of rows from one run), a 5% margin, no
baseline no verdict; the rounds themselves open fresh runners and take turns going first."""

from __future__ import annotations

from compressor.measurement import head_to_head
from compressor.report.schema import LatencyMs, ResultRow
from compressor.report.verdict import speed_verdicts


def _row(variant: str, backend: str, batch: int, p50: float) -> ResultRow:
    return ResultRow(
        variant=variant,
        precision="fp32" if variant == "baseline" else "int8",
        backend=backend,
        device="cpu",
        batch_size=batch,
        artifact=None,
        metrics={"top1": 0.9},
        latency_ms=LatencyMs(p50=p50, p90=p50, p99=p50),
        fps=batch * 1000 / p50,
        size_mb=1.0,
        params=None,
        macs=None,
        peak_memory_mb=None,
    )


def test_verdicts_compare_like_with_like() -> None:
    rows = [
        _row("baseline", "onnxruntime", 1, 2.0),
        _row("baseline", "onnxruntime", 16, 20.0),
        _row("int8", "onnxruntime", 1, 1.0),  # 2x: faster
        _row("int8", "onnxruntime", 16, 19.5),  # 1.03x: within the noise margin, not faster
        _row("int8", "torch", 1, 0.1),  # no torch baseline row: no verdict
    ]
    verdicts = {(v.batch_size, v.backend): v for v in speed_verdicts(rows)}
    assert set(verdicts) == {(1, "onnxruntime"), (16, "onnxruntime")}
    assert verdicts[(1, "onnxruntime")].speedup == 2.0 and verdicts[(1, "onnxruntime")].faster
    assert not verdicts[(16, "onnxruntime")].faster
    assert "no faster" in verdicts[(16, "onnxruntime")].sentence()
    slower = speed_verdicts([_row("baseline", "torch", 1, 1.0), _row("fp16", "torch", 1, 3.0)])
    assert "slower" in slower[0].sentence() and slower[0].speedup == 0.333


def test_head_to_head_rounds_decide_over_the_rows() -> None:
    rows = [_row("baseline", "onnxruntime", 1, 2.0), _row("int8", "onnxruntime", 1, 1.9)]  # rows: 1.05x
    (verdict,) = speed_verdicts(rows, head_to_head={("int8", "onnxruntime", "cpu", 1): [1.0, 0.9, 1.02, 0.98, 1.3]})
    assert verdict.speedup == 1.0 and not verdict.faster and verdict.rounds == 5 and verdict.rows_speedup == 1.053
    assert "(head to head, 5 rounds)" in verdict.sentence()


class _Clocked:
    """A runner stand-in whose time is fixed; it records when it was opened and closed."""

    def __init__(self, name: str, seconds: float, log: list[str]) -> None:
        self.name, self.seconds, self.log = name, seconds, log
        log.append(f"open {name}")

    def close(self) -> None:
        self.log.append(f"close {self.name}")


def test_rounds_open_fresh_runners_and_take_turns_first() -> None:
    log: list[str] = []
    sides = [
        head_to_head.fresh_timing(lambda name=name, s=s: _Clocked(name, s, log), lambda runner: runner.seconds)  # type: ignore[misc, return-value, attr-defined]
        for name, s in (("a", 2.0), ("b", 1.0))
    ]
    ratios = head_to_head.alternating_ratios(*sides, 2)
    assert ratios == [2.0, 2.0]  # a's time over b's, whichever went first
    assert log == ["open a", "close a", "open b", "close b", "open b", "close b", "open a", "close a"]


def test_the_fastest_row_within_the_accuracy_budget_is_named_per_batch_size() -> None:
    from compressor.report.verdict import fastest_within_budget

    def scored(variant: str, backend: str, batch: int, p50: float, top1: float) -> ResultRow:
        return _row(variant, backend, batch, p50).model_copy(update={"metrics": {"top1": top1}})

    rows = [
        scored("baseline", "onnxruntime", 1, 2.0, 0.90),
        scored("baseline", "openvino", 1, 1.5, 0.90),
        scored("int8", "onnxruntime", 1, 0.8, 0.895),  # 0.5 pt: within 1 pt
        scored("int8", "openvino", 1, 0.5, 0.87),  # fastest, but 3 pt below: out
        scored("baseline", "openvino", 16, 10.0, 0.90),
        scored("int8", "openvino", 16, 12.0, 0.90),
    ]
    fastest = {entry.batch_size: entry for entry in fastest_within_budget(rows, "top1", budget=1.0)}
    assert (fastest[1].variant, fastest[1].backend, fastest[1].rows) == ("int8", "onnxruntime", 3)
    assert (fastest[16].variant, fastest[16].backend) == ("baseline", "openvino")
    assert "int8 (int8) on onnxruntime" in fastest[1].sentence("top1")
    wider = fastest_within_budget(rows, "top1", budget=5.0)
    assert (wider[0].variant, wider[0].backend) == ("int8", "openvino")
    assert fastest_within_budget([row for row in rows if row.backend == "openvino"], "top1") == []  # one backend
