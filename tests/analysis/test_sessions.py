"""Multi-turn session figures on hand-made samples: by turn, first against later, outcomes."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis import analyze_run, write_outputs
from analysis.judging.result import RunResult
from analysis.measuring.client import Window
from analysis.measuring.sessions import MAX_TURN_ROWS, measure_sessions, sessions_summary
from analysis.outputs.session_sections import session_sections
from analysis.reading.samples import with_derived
from tests.analysis.helpers import S_US, T0_US, samples, write_run

# (session, turn, planned turns, response µs, error, cache, request bytes)
ROWS = [
    (1, 1, 3, 1000, "", "HIT", 100),
    (1, 2, 3, 5000, "", "MISS", 300),
    (1, 3, 3, 7000, "", "MISS", 500),  # completed
    (2, 1, 3, 2000, "", "HIT", 110),
    (2, 2, 3, 6000, "HTTP 500", "", 310),  # a failed turn ends the session
    (3, 1, 2, 3000, "", "MISS", 120),  # cut: its turn 2 never came
    (4, 1, 2, 4000, "cancelled", "", 130),  # in flight at the end: cut, not failed
    (0, 0, 0, 900, "", "HIT", 50),  # not a session turn
]


def _frame(rows=ROWS, step_us: int = 100_000) -> pd.DataFrame:
    n = len(rows)
    intended = T0_US + np.arange(n) * step_us
    frame = samples(intended, response_us=[r[3] for r in rows], error=[r[4] for r in rows])
    frame = frame.assign(
        session=np.array([r[0] or -1 for r in rows], dtype=np.int64),
        turn=np.array([r[1] for r in rows], dtype=np.int32),
        session_turns=np.array([r[2] for r in rows], dtype=np.int32),
        cache=pd.Categorical([r[5] for r in rows]),
        request_bytes=np.array([r[6] for r in rows], dtype=np.int64),
        error=pd.Categorical([r[4] for r in rows]),
        kind=pd.Categorical(["talk"] * n),
    )
    return with_derived(frame)


WINDOW = Window(T0_US, T0_US + 10 * S_US, "test")


def test_figures_by_turn_and_first_against_later():
    frame = _frame()
    ttft = np.array([500, 2000, 3000, 600, np.nan, 700, np.nan, np.nan])
    sessions = measure_sessions(frame, WINDOW, ttft)
    by_turn = {f.turn: f for f in sessions.by_turn}
    assert list(by_turn) == ["1", "2", "3"]
    first, second = by_turn["1"], by_turn["2"]
    assert (first.requests, first.errors, second.requests, second.errors) == (4, 1, 2, 1)
    # Nearest rank: P50 of 4 values is the 2nd, of 2 values the 1st.
    assert first.latency.get("p50") == 2.0 and first.latency.get("p95") == 4.0
    assert second.latency.get("p50") == 5.0 and by_turn["3"].latency.get("p50") == 7.0
    assert first.ttft.get("p50") == 0.6 and first.ttft.count == 3
    assert second.ttft.count == 1 and second.ttft.get("p50") == 2.0
    assert (first.request_bytes_p50, first.request_bytes_max) == (110, 130)
    assert second.request_bytes_p50 == 300 and by_turn["3"].request_bytes_max == 500
    assert (first.hits, first.misses, first.hit_percent) == (2, 1, pytest.approx(200 / 3))
    assert (second.hits, second.misses) == (0, 1) and second.hit_percent == 0.0
    later = sessions.groups["later"]
    assert (later.requests, later.hits, later.misses) == (3, 0, 2)
    assert later.latency.get("p50") == 6.0 and later.request_bytes_p50 == 310
    assert sessions.groups["first"] == replace(first, turn="first")
    assert (sessions.started, sessions.completed, sessions.failed, sessions.cut) == (4, 1, 1, 2)


def test_outcomes_cover_the_whole_run_and_figures_the_judged_window():
    frame = _frame()
    window = Window(T0_US + 250_000, T0_US + 650_000, "test")  # rows 3..6
    sessions = measure_sessions(frame, window)
    assert (sessions.started, sessions.completed, sessions.failed, sessions.cut) == (4, 1, 1, 2)
    by_turn = {f.turn: f.requests for f in sessions.by_turn}
    assert by_turn == {"1": 3, "2": 1}
    assert math.isnan(sessions.by_turn[0].ttft.get("p50"))  # nothing streamed


def test_turns_from_the_last_row_on_are_pooled():
    rows = [(9, k, 14, 1000 * k, "", "MISS", 100 * k) for k in range(1, 15)]
    sessions = measure_sessions(_frame(rows), WINDOW)
    names = [f.turn for f in sessions.by_turn]
    assert names == [*(str(k) for k in range(1, MAX_TURN_ROWS)), f"{MAX_TURN_ROWS}+"]
    pooled = sessions.by_turn[-1]
    assert pooled.requests == 14 - MAX_TURN_ROWS + 1 and pooled.request_bytes_max == 1400
    assert sessions.completed == 1 and sessions.cut == 0


def test_a_run_without_sessions_has_no_section():
    plain = _frame([(0, 0, 0, 1000, "", "HIT", 80)] * 5)
    sessions = measure_sessions(plain, WINDOW)
    assert not sessions.any and sessions_summary(sessions) == {}
    only_outside = measure_sessions(_frame(), Window(T0_US + 20 * S_US, T0_US + 30 * S_US, "t"))
    assert only_outside.started == 4 and only_outside.by_turn == ()
    assert "judged window" in only_outside.reason


def test_analysis_of_a_run_directory_reads_sessions_over_parts(tmp_path):
    frame = _frame()
    run_dir = write_run(tmp_path, frame, parts=3)
    analysis = analyze_run(run_dir)
    saved = analysis.summary["measurements"]["sessions"]
    assert (saved["started"], saved["completed"], saved["failed"], saved["cut"]) == (4, 1, 1, 2)
    assert saved["completed_percent"] == 25.0
    assert [t["turn"] for t in saved["by_turn"]] == ["1", "2", "3"]
    assert [t["request_bytes_p50"] for t in saved["by_turn"]] == [110, 300, 500]
    assert saved["first_turn"]["hits"] == 2 and saved["later_turns"]["requests"] == 3
    result = RunResult.from_dict(analysis.summary, exact=True)
    assert result.measurements.sessions is not None
    [section] = session_sections(result)
    assert section["title"] == "Multi-turn sessions"
    assert [row[0] for row in section["rows"]] == ["1", "2", "3", "first", "later"]
    assert section["rows"][0][9] == "2 / 3" and "4 sessions started" in section["caption"]
    write_outputs(run_dir, analysis)
    assert "Multi-turn sessions" in (run_dir / "index.html").read_text()


def test_an_older_run_without_the_columns_reads_as_no_sessions(tmp_path):
    frame = samples(T0_US + np.arange(20) * 100_000)  # no session columns: written before them
    run_dir = write_run(tmp_path / "old", frame)
    summary = analyze_run(run_dir).summary
    assert "sessions" not in summary["measurements"]
    assert session_sections(RunResult.from_dict(summary)) == []
