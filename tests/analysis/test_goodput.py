"""Goodput on synthetic samples: which requests count, thresholds from slo or latency targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import analyze_run
from analysis.contract.schema import SCENARIO_FILE
from analysis.contract.targets import Target
from analysis.measuring.goodput import resolve_slo
from analysis.reading.errors import RunDirError
from tests.analysis.helpers import samples, steady, write_run

MS = 1000


def mixed_frame() -> pd.DataFrame:
    """4 plain requests (100, 200, 300 ms, one failed) and 5 streams, with known outcomes."""
    plain = samples(steady(4), response_us=[100 * MS, 200 * MS, 300 * MS, 50 * MS],
                    error=["", "", "", "HTTP 500"], kind="chat")  # fmt: skip
    plain = plain.assign(first_token_us=-1, last_token_us=-1, tokens=np.int32(0))
    intended = steady(5) + 500
    # ttft (ms): 100, 600 (misses ttft), 100, 100, none (incomplete: misses ttft, failed)
    ttft = np.array([100, 600, 100, 100, -1]) * MS
    # itl (ms): 20, 20, 80 (misses itl), 1 token (no itl), -
    tokens = np.array([11, 11, 11, 1, 0], dtype=np.int32)
    gap = np.array([20, 20, 80, 0, 0]) * MS
    first = np.where(ttft >= 0, intended + ttft, -1)
    last = np.where(ttft >= 0, first + gap * np.maximum(tokens - 1, 0), -1)
    done = np.where(ttft >= 0, last, intended + 900 * MS) + MS
    streams = samples(intended, done_us=done, kind="chat-stream",
                      error=["", "", "", "", "stream incomplete"])  # fmt: skip
    streams = streams.assign(first_token_us=first, last_token_us=last, tokens=tokens)
    return pd.concat([plain, streams], ignore_index=True)


def _run(tmp_path, frame, targets=None, slo=None):
    run_dir = write_run(tmp_path, frame, targets=targets or {})
    if slo is not None:
        scenario = yaml.safe_load((run_dir / SCENARIO_FILE).read_text())
        (run_dir / SCENARIO_FILE).write_text(yaml.safe_dump({**scenario, "slo": slo}))
    return run_dir


def test_goodput_counts_requests_within_every_threshold(tmp_path):
    slo = {"response_ms": 200, "ttft_ms": 500, "itl_ms": 50}
    analysis = analyze_run(_run(tmp_path, mixed_frame(), {"goodput_percent": "> 50"}, slo))
    g = analysis.summary["measurements"]["goodput"]
    # good: plain 100 and 200 ms (<= 200), streams 0 (all fine) and 3 (1 token: no ITL)
    assert g["requests"] == 9 and g["good"] == 4
    assert g["missed"] == {"failed": 2, "response_ms": 1, "ttft_ms": 2, "itl_ms": 1}
    assert g["percent"] == pytest.approx(400 / 9)
    assert g["thresholds_source"] == "scenario slo"
    assert analysis.summary["measurements"]["goodput_rps"] == pytest.approx(4 / 10.0)
    verdict = analysis.summary["verdicts"][0]
    assert verdict["metric"] == "goodput_percent" and verdict["status"] == "FAIL"
    assert verdict["measured"] == pytest.approx(400 / 9)


def test_thresholds_default_to_the_loosest_latency_targets():
    targets = {
        "latency_p50_ms": Target.parse("< 10"),
        "latency_p99_ms": Target.parse("< 250"),
        "ttft_p95_ms": Target.parse("100..400"),
        "itl_p99_ms": Target.parse("> 5"),  # a floor is no per-request ceiling
    }
    slo = resolve_slo({}, targets)
    assert slo.thresholds_ms == {"response_ms": 250.0, "ttft_ms": 400.0}
    assert slo.source == "latency targets: latency_p99_ms < 250, ttft_p95_ms 100..400"
    none = {"response_ms": None, "ttft_ms": None, "itl_ms": None}  # a resolved scenario's slo
    assert resolve_slo({"slo": none}, targets).thresholds_ms == slo.thresholds_ms
    assert resolve_slo({"slo": {"itl_ms": 30}}, targets).thresholds_ms == {"itl_ms": 30.0}


def test_default_thresholds_judge_week1_style_runs(tmp_path):
    frame = samples(steady(100), response_us=np.r_[np.full(97, 5 * MS), np.full(3, 300 * MS)])
    targets = {"latency_p99_ms": "< 200", "goodput_percent": "> 99"}
    analysis = analyze_run(_run(tmp_path, frame, targets))
    g = analysis.summary["measurements"]["goodput"]
    assert g["thresholds_ms"] == {"response_ms": 200.0} and g["good"] == 97
    statuses = {v["metric"]: v["status"] for v in analysis.summary["verdicts"]}
    assert statuses == {"latency_p99_ms": "FAIL", "goodput_percent": "FAIL"}


def test_no_thresholds_is_no_data(tmp_path):
    analysis = analyze_run(_run(tmp_path, samples(steady(50)), {"goodput_percent": "> 99"}))
    verdict = analysis.summary["verdicts"][0]
    assert verdict["status"] == "NO DATA" and "slo" in verdict["reason"]
    assert analysis.summary["measurements"]["goodput_rps"] is None


@pytest.mark.parametrize(
    "slo, problem",
    [({"response_ms": 0}, "> 0"), ({"latency_ms": 5}, "unknown"), ({"ttft_ms": "1s"}, "> 0")],
)
def test_bad_slo_names_the_file_and_field(tmp_path, slo, problem):
    with pytest.raises(RunDirError, match=problem) as caught:
        analyze_run(_run(tmp_path, samples(steady(10)), {}, slo))
    assert caught.value.field == "slo" and caught.value.path.name == SCENARIO_FILE
