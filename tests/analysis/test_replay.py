"""Replay fidelity: send lag against the trace and every row of the file, in summary and report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis import analyze_run, write_outputs
from analysis.contract.schema import REPORT_FILE, SUMMARY_FILE
from analysis.judging.result import RunResult
from analysis.measuring.replay import replay_from, tally_replay
from analysis.measuring.tally import Tally
from tests.analysis.helpers import metadata, samples, steady, write_run

TRACE = {
    "file": "/data/traces/mooncake-small.jsonl",
    "format": "mooncake",
    "rows_in_file": 130,
    "speedup": 2.0,
    "passes": 1,
    "pass_s": 20.0,
    "duration_s": 10.0,
    "mean_rps": 10.0,
    "rows_scheduled": 100,
    "rows_outside_window": 20,
    "rows_invalid": 10,
}


def _lags() -> np.ndarray:
    """90 rows on time (0.1 ms), 8 at 1 ms exactly, 1 at 2.5 ms, 1 at 40 ms."""
    return np.array([100] * 90 + [1000] * 8 + [2500, 40_000], dtype=np.int64)


def _meta(not_sent: int = 0) -> dict:
    meta = metadata(rate_rps=10.0)
    meta["load"]["trace"] = TRACE
    meta["generator"]["not_sent"] = not_sent
    return meta


def test_lag_percentiles_on_time_share_and_skipped_rows_by_reason():
    intended = steady(98, 10.0)
    frame = samples(intended, sent_us=intended + _lags()[:98])
    t = Tally()
    tally_replay(frame.iloc[:50], t)  # two blocks: the figures are those of all rows at once
    tally_replay(frame.iloc[50:], t)
    replay = replay_from(t, _meta(not_sent=2))
    assert replay is not None
    assert replay.rows_sent == 98
    assert replay.lag.get("p50") == pytest.approx(0.1)
    assert replay.lag.get("max") == pytest.approx(1.0)
    assert replay.on_time_percent == pytest.approx(100.0)  # within 1 ms counts 1 ms itself
    figures = replay.as_dict()
    assert figures["rows_skipped"] == {
        "outside_window": 20,
        "invalid": 10,
        "not_sent": 2,
        "unaccounted": 0,
    }


def test_rows_neither_sent_nor_counted_are_unaccounted_and_other_runs_have_no_replay():
    t = Tally()
    intended = steady(60, 10.0)
    tally_replay(samples(intended, sent_us=intended + 3000), t)
    replay = replay_from(t, _meta())
    assert replay is not None
    assert replay.rows_unaccounted == 40
    assert replay.on_time_percent == 0.0
    assert replay_from(t, metadata()) is None


def test_the_summary_and_the_report_carry_the_replay_fidelity_table(tmp_path):
    intended = steady(100, 10.0)
    run_dir = write_run(tmp_path, samples(intended, sent_us=intended + _lags()), meta=_meta())
    analysis = analyze_run(run_dir)
    replay = analysis.result.measurements.replay
    assert replay is not None
    assert replay.rows_sent == 100 and replay.send_lag_ms.max == pytest.approx(40.0)
    assert replay.send_lag_ms.p99 == pytest.approx(2.5)
    assert replay.on_time_percent == pytest.approx(98.0)
    write_outputs(run_dir, analysis)
    saved = json.loads((run_dir / SUMMARY_FILE).read_text())["measurements"]["replay"]
    assert saved["rows_skipped"]["outside_window"] == 20
    assert RunResult.from_dict(json.loads((run_dir / SUMMARY_FILE).read_text()), exact=True)
    html = (run_dir / REPORT_FILE).read_text()
    table = html[html.index("Replay fidelity") :]
    assert "mooncake-small.jsonl (mooncake)" in table
    assert "0.100 ms / 2.500 ms / 40.000 ms / 40.000 ms" in table
    assert "98.00 %" in table


def test_a_run_without_a_trace_has_no_replay_section(tmp_path):
    run_dir = write_run(tmp_path, samples(steady(100, 10.0)), meta=metadata(rate_rps=10.0))
    analysis = analyze_run(run_dir)
    assert analysis.result.measurements.replay is None
    write_outputs(run_dir, analysis)
    assert "Replay fidelity" not in (run_dir / REPORT_FILE).read_text()
