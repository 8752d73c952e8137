"""The regression rule: worse than the previous passing run of the group beyond the noise."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analysis.history.regressions import (
    REL_TOLERANCE,
    SPREAD_FACTOR,
    RunRecord,
    find_regressions,
    is_run_dir,
    read_history,
    read_record,
    regressions,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _record(i: int, p95_ms: float | None, status: str = "PASS", setup: str = "1000 req/s · x"):
    return RunRecord(
        run_id=f"2026010{i}T000000Z-s",
        started=T0 + timedelta(hours=i),
        scenario="s",
        status=status,
        setup=setup,
        figures={"p95_ms": p95_ms, "p99_ms": None, "memory_bytes": None, "cpu_percent": None},
    )


def test_worse_than_ten_percent_of_a_single_baseline_is_a_regression():
    base, same, worse = _record(1, 10.0), _record(2, 10.9), _record(3, 11.2)
    assert find_regressions(same, [base, same]) == []
    found = find_regressions(worse, [base, worse])
    assert [(r.figure, r.baseline, r.value) for r in found] == [("p95_ms", 10.0, 11.2)]
    assert found[0].allowed == REL_TOLERANCE * 10.0
    assert "P95 11.200 ms vs 10.000 ms" in found[0].describe()
    assert found[0].short() == "P95 11.200 ms vs 10.000 ms (+12 %)"


def test_the_spread_of_earlier_passing_runs_widens_the_allowance():
    history = [_record(1, 10.0), _record(2, 14.0), _record(3, 10.0), _record(4, 15.0)]
    # spread of runs 1..3 is 4 ms -> allowance 1.5 * 4 = 6 ms over the latest passing (10 ms)
    assert find_regressions(history[3], history) == []
    later = _record(5, 10.0 + SPREAD_FACTOR * 4.0 + 2.0)
    # run 4 (15 ms) is now the baseline and the spread of runs 1..4 is 5 ms -> 7.5 ms
    assert find_regressions(later, [*history, later]) == []
    much_worse = _record(5, 23.0)
    assert [r.baseline for r in find_regressions(much_worse, [*history, much_worse])] == [15.0]


def test_baseline_is_the_previous_passing_run_of_the_same_group():
    history = [
        _record(1, 10.0),
        _record(2, 50.0, status="FAIL"),  # not a baseline
        _record(3, 12.0, setup="200 req/s · x"),  # another group
        _record(4, 20.0),
    ]
    found = find_regressions(history[3], history)
    assert [(r.baseline_run, r.baseline) for r in found] == [(history[0].run_id, 10.0)]
    assert find_regressions(history[0], history) == []  # nothing earlier
    # a failing run is flagged too when it is worse (it is just never a baseline)
    assert set(regressions(history)) == {history[1].run_id, history[3].run_id}


def test_incomplete_runs_count_as_passing_and_floors_absorb_tiny_changes():
    base = _record(1, 0.30, status="INCOMPLETE")
    tiny = _record(2, 0.45)  # +50 % but only 0.15 ms: under the 0.5 ms floor
    assert find_regressions(tiny, [base, tiny]) == []
    assert find_regressions(_record(2, 0.9), [base, _record(2, 0.9)])


def _write(run_dir: Path, summary: dict | None, metadata: dict | None) -> Path:
    run_dir.mkdir(parents=True)
    if summary is not None:
        (run_dir / "summary.json").write_text(json.dumps(summary))
    if metadata is not None:
        (run_dir / "metadata.json").write_text(json.dumps(metadata))
    return run_dir


def test_read_history_orders_by_start_and_groups_by_rate_and_target(tmp_path):
    meta = {"embedded": True, "load": {"rate_rps": 1000.0}, "started_utc": "2026-01-02T00:00:00Z"}
    summary = {
        "scenario": "s",
        "status": "PASS",
        "measurements": {"rate_rps": 999.0, "latency_ms": {"p95": 5.0, "p99": 7.0}},
        "verdicts": [{"metric": "latency_p95_ms", "target": "< 50"}],
    }
    _write(tmp_path / "20260102T000000Z-s", summary, meta)
    remote = {
        **meta,
        "embedded": False,
        "target": "http://user:pw@agent.example:8080/",
        "started_utc": "2026-01-01T00:00:00+00:00",
    }
    _write(tmp_path / "20260101T000000Z-s", None, remote)
    (tmp_path / "not-a-run").mkdir()
    history = read_history(tmp_path)
    assert [r.run_id for r in history] == ["20260101T000000Z-s", "20260102T000000Z-s"]
    older, newer = history
    assert older.status == "NOT ANALYSED" and older.problem == "no summary.json"
    assert older.setup == "1000 req/s · agent.example:8080"  # no credentials
    assert newer.group == "s · 1000 req/s · embedded stand-in"
    assert newer.figures["p95_ms"] == 5.0 and newer.figures["memory_bytes"] is None
    assert newer.targets == {"latency_p95_ms": "< 50"}
    assert read_record(tmp_path / "not-a-run") is None


def test_run_dir_names():
    assert is_run_dir(Path("reports/20261127T165556Z-week1-baseline"))
    assert is_run_dir(Path("20261127T165556Z-week1-baseline-2"))
    assert not is_run_dir(Path("tests/fixtures/run-small"))
    assert not is_run_dir(Path("run"))
