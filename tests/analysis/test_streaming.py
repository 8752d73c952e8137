"""Streaming figures on synthetic samples with known answers: TTFT, ITL, tokens/s, completion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import analyze_run
from analysis.contract.schema import SCENARIO_FILE
from analysis.measuring.client import judged_window
from analysis.measuring.streaming import measure_streaming, stream_kinds
from analysis.reading.rundir import load_run
from tests.analysis.helpers import samples, steady, write_run

STREAM_TARGETS = {
    "ttft_p50_ms": "< 600",
    "ttft_p95_ms": "< 2000",
    "ttft_p99_ms": "< 2000",
    "itl_p95_ms": "< 50",
    "itl_p99_ms": "< 50",
    "tokens_per_s_p50": "> 1",
    "stream_completion": "> 99",
}


def streamed_frame(n: int = 1000, seed: int = 3):
    """``n`` streams: TTFT k ms and ITL 10·k µs (k = 1..n, shuffled), 11 tokens, sent +0.1 ms."""
    rng = np.random.default_rng(seed)
    intended = steady(n)
    sent = intended + 100
    ttft_us = rng.permutation(np.arange(1, n + 1)) * 1000
    itl_us = rng.permutation(np.arange(1, n + 1)) * 10
    first = intended + ttft_us
    last = first + 10 * itl_us
    done = last + 1000
    frame = samples(intended, sent_us=sent, done_us=done, kind="chat-stream")
    return frame.assign(
        first_token_us=first, last_token_us=last, tokens=np.full(n, 11, dtype=np.int32)
    )


def _write(tmp_path, frame, targets=None, scenario_extra=None):
    run_dir = write_run(tmp_path, frame, targets=targets if targets is not None else {})
    if scenario_extra:
        scenario = yaml.safe_load((run_dir / SCENARIO_FILE).read_text())
        (run_dir / SCENARIO_FILE).write_text(yaml.safe_dump({**scenario, **scenario_extra}))
    return run_dir


def _measure(tmp_path, frame, kinds=frozenset()):
    run = load_run(_write(tmp_path, frame))
    return measure_streaming(run.samples, judged_window(run.metadata, run.samples), kinds)


def test_ttft_and_itl_percentiles_are_exact(tmp_path):
    s = _measure(tmp_path, streamed_frame())
    assert s.streamed == 1000 and s.completed == 1000 and s.tokens == 11_000
    assert s.ttft.as_dict() == {
        "p50": 500.0, "p90": 900.0, "p95": 950.0, "p99": 990.0, "p999": 999.0, "max": 1000.0,
    }  # fmt: skip
    assert s.ttft_sent.get("p50") == pytest.approx(499.9)
    assert s.ttft_sent.get("max") == pytest.approx(999.9)
    assert s.tpot.count == 1000
    assert s.tpot.get("p50") == pytest.approx(5.0)
    assert s.tpot.get("p95") == pytest.approx(9.5)
    assert s.tpot.get("p99") == pytest.approx(9.9)


def test_tokens_per_s_is_tokens_over_service_time(tmp_path):
    frame = streamed_frame()
    s = _measure(tmp_path, frame)
    service_s = (frame["done_us"] - frame["sent_us"]).to_numpy() / 1e6
    rates = np.sort(11 / service_s)
    for name, q in (("p50", 0.5), ("p10", 0.1), ("p1", 0.01)):
        expected = np.quantile(rates, q, method="inverted_cdf")
        assert s.tokens_per_s[name] == pytest.approx(expected)
    assert s.tokens_per_s["min"] == pytest.approx(rates[0])


def test_completion_counts_incomplete_and_failed_streams(tmp_path):
    frame = streamed_frame(100)
    error = np.array([""] * 100, dtype=object)
    error[:3] = "stream incomplete"  # tokens arrived, [DONE] did not
    error[3] = "timeout"
    frame = frame.assign(error=error)
    first = frame["first_token_us"].to_numpy().copy()
    first[3] = -1  # the timed-out stream never got a token
    frame = frame.assign(
        first_token_us=first, last_token_us=np.where(first < 0, -1, frame["last_token_us"])
    )
    frame.loc[3, "tokens"] = 0
    s = _measure(tmp_path, frame, frozenset({"chat-stream"}))
    assert s.streamed == 100 and s.completed == 96
    assert s.completion.value == pytest.approx(96.0)
    assert s.ttft.count == 99  # every stream with a token, complete or not
    assert s.tokens_per_s_count == 96  # completed streams only


def test_one_token_streams_have_no_itl(tmp_path):
    frame = streamed_frame(10).assign(tokens=np.int32(1))
    frame = frame.assign(last_token_us=frame["first_token_us"])
    s = _measure(tmp_path, frame)
    assert s.ttft.count == 10 and s.tpot.count == 0
    measured = s.measured("itl_p95")
    assert np.isnan(measured.value) and "2 or more tokens" in measured.reason


def test_streamed_kind_counts_even_without_any_token(tmp_path):
    frame = samples(steady(20), kind="chat-stream", error="timeout")
    assert _measure(tmp_path, frame).streamed == 0  # nothing says these were streams
    s = _measure(tmp_path, frame, frozenset({"chat-stream"}))
    assert s.streamed == 20 and s.completion.value == 0.0
    assert "received a token" in s.measured("ttft_p95").reason


def test_stream_kinds_from_the_scenario():
    scenario = {
        "requests": [
            {"kind": "a", "chat": {"stream": True}},
            {"kind": "b", "chat": {"stream": False}},
            {"kind": "c", "path": "/health"},
        ]
    }
    assert stream_kinds(scenario) == frozenset({"a"})
    assert stream_kinds({}) == frozenset()


def test_no_streams_is_no_data_never_pass(tmp_path):
    run_dir = _write(tmp_path, samples(steady(200), kind="chat"), targets=STREAM_TARGETS)
    analysis = analyze_run(run_dir)
    verdicts = {v["metric"]: v for v in analysis.summary["verdicts"]}
    assert set(verdicts) == set(STREAM_TARGETS)
    for verdict in verdicts.values():
        assert verdict["status"] == "NO DATA" and verdict["measured"] is None
        assert "no streamed requests" in verdict["reason"]
    assert analysis.status == "INCOMPLETE" and analysis.exit_code == 2
    assert analysis.summary["measurements"]["streaming"]["requests"] == 0


def test_streaming_verdicts_and_kind_tags(tmp_path):
    health = samples(steady(100) + 5, kind="health")
    frame = streamed_frame().assign(cache="MISS")
    health = health.assign(cache="", first_token_us=-1, last_token_us=-1, tokens=np.int32(0))
    both = pd.concat([frame, health], ignore_index=True)
    scenario = {"requests": [{"kind": "chat-stream", "chat": {"stream": True}}]}
    analysis = analyze_run(_write(tmp_path, both, STREAM_TARGETS, scenario))
    verdicts = {v["metric"]: v for v in analysis.summary["verdicts"]}
    assert verdicts["ttft_p50_ms"]["measured"] == 500.0
    assert verdicts["ttft_p50_ms"]["status"] == "PASS"
    assert verdicts["itl_p99_ms"]["measured"] == pytest.approx(9.9)
    assert verdicts["stream_completion"]["measured"] == 100.0
    assert verdicts["tokens_per_s_p50"]["unit"] == "tokens/s"
    assert "1,000 streamed requests" in verdicts["ttft_p95_ms"]["source"]
    by_kind = analysis.summary["measurements"]["by_kind"]
    assert by_kind["chat-stream"]["ttft_p95_ms"] == 950.0
    assert by_kind["chat-stream"]["tokens_per_s_p50"] > 0
    assert "ttft_p95_ms" not in by_kind["health"]
