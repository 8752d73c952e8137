"""An interrupted run is judged over the part of its steady window that ran, and says so."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis import analyze_run, write_outputs
from analysis.measuring.client import Window
from analysis.measuring.interrupted import ran_window
from analysis.reading.rundir import load_run
from analysis.reading.synthetic import START_US, WEEK1_TARGETS, SyntheticRun, write_synthetic_run
from tests.analysis.helpers import S_US, T0_US, metadata, samples

RATE_RPS = 200.0
RAMP_S = 5.0
RAMP_ROWS = int(RATE_RPS * RAMP_S / 2)  # the ramp's triangle: 500 requests
TARGETS = tuple({**WEEK1_TARGETS, "request_rate_rps": "160..240"}.items())


def _interrupted(tmp_path, rows: int) -> SyntheticRun:
    """200 req/s after a 5 s ramp, planned for 60 s steady, stopped after ``rows`` requests."""
    spec = SyntheticRun(
        rows=rows,
        rate_rps=RATE_RPS,
        ramp_s=RAMP_S,
        error_share=0.0,
        planned_s=60.0,
        outcome="interrupted",
        targets=TARGETS,
    )
    write_synthetic_run(tmp_path / "run", spec)
    return spec


def test_the_rate_of_a_run_interrupted_2_s_into_its_steady_window_is_over_those_2_s(tmp_path):
    _interrupted(tmp_path, RAMP_ROWS + 400)  # 2 s of the planned 60 s at 200 req/s
    run_dir = tmp_path / "run"
    analysis = analyze_run(run_dir)
    write_outputs(run_dir, analysis)
    sentence = "judged over 2.0 s of the planned 60 s steady window; the run was interrupted"
    summary = json.loads((run_dir / "summary.json").read_text())
    m = summary["measurements"]
    # Over the planned 60 s the same requests read 6.7 req/s, a FAIL of a load that kept 200.
    assert m["rate_rps"] == pytest.approx(RATE_RPS, rel=0.01)
    assert m["requests"] == 400
    assert m["window"]["duration_s"] == pytest.approx(2.0, abs=0.01)
    rows = {v["metric"]: v for v in summary["verdicts"]}
    assert rows["request_rate_rps"]["status"] == "PASS", rows["request_rate_rps"]
    assert rows["memory_bytes"]["status"] == "PASS"  # the series over the part that ran
    # The percentiles are those of the 400 requests of the part that ran, nearest rank.
    run = load_run(run_dir)
    steady = run.samples[run.samples["intended_us"] >= START_US + int(RAMP_S * S_US)]
    response_ms = np.sort(steady["response_us"].to_numpy()) / 1000
    assert len(response_ms) == 400
    assert m["latency_ms"]["p99"] == response_ms[396 - 1]  # rank ceil(0.99 * 400) = 396
    assert summary["status"] == "INTERRUPTED" and analysis.exit_code == 130
    assert sentence in summary["warnings"]
    assert sentence in (run_dir / "index.html").read_text()


def test_a_run_interrupted_before_its_steady_window_judges_nothing(tmp_path):
    _interrupted(tmp_path, 300)  # stopped 3.9 s into the 5 s ramp
    analysis = analyze_run(tmp_path / "run")
    reason = (
        "the run was interrupted 3.9 s into the load, before its 60 s steady window began; "
        "nothing was judged"
    )
    verdicts = analysis.result.verdicts
    assert len(verdicts) == len(TARGETS)
    for verdict in verdicts:  # the server series (memory, CPU, OTLP) too: never a PASS
        assert (verdict.status, verdict.reason) == ("NO DATA", reason), verdict
    assert analysis.result.status == "INTERRUPTED"
    assert reason in analysis.result.warnings


def _window(seconds: int) -> Window:
    return Window(T0_US, T0_US + seconds * S_US, "test")


def test_a_run_interrupted_after_its_steady_window_or_not_at_all_is_judged_whole():
    early = samples(T0_US + np.arange(0, 5 * S_US, 10_000))  # the samples end 5 s in
    interrupted = metadata(outcome="interrupted")
    whole = ran_window(interrupted, samples(T0_US + np.arange(0, 12 * S_US, 10_000)), _window(10))
    assert (whole.window, whole.note) == (_window(10), "")
    completed = ran_window(metadata(outcome="completed"), early, _window(10))
    assert (completed.window, completed.note) == (_window(10), "")
    cut = ran_window(interrupted, early, _window(10))
    assert cut.window is not None and cut.window.end_us == T0_US + 5 * S_US - 10_000 + 1
    assert cut.note == (
        "judged over 5.0 s of the planned 10 s steady window; the run was interrupted"
    )


def test_a_run_interrupted_before_it_sent_anything_judges_nothing():
    nothing = ran_window(metadata(outcome="interrupted"), samples([]), _window(10))
    assert nothing.nothing_judged
    assert nothing.note == (
        "the run was interrupted, before its 10 s steady window began; nothing was judged"
    )
