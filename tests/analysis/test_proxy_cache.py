"""Proxy overhead percentiles and the cache split (hit ratio, HIT/MISS latency), known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import analyze_run
from analysis.measuring.cacheeffect import measure_cache
from analysis.measuring.client import judged_window
from analysis.measuring.proxytime import measure_proxy_time
from analysis.measuring.streaming import streamed_mask
from analysis.reading.rundir import load_run
from tests.analysis.helpers import samples, steady, write_run

MS = 1000


def _proxy(tmp_path, frame):
    run = load_run(write_run(tmp_path, frame, targets={}))
    window = judged_window(run.metadata, run.samples)
    return measure_proxy_time(run.samples, window, streamed_mask(run.samples))


def test_overhead_upstream_and_unexplained_percentiles(tmp_path):
    k = np.random.default_rng(5).permutation(np.arange(1, 101))
    overhead = k * 10  # 0.01 .. 1 ms
    upstream = np.where(k > 2, 2 * MS, -1)  # two requests without the header
    intended = steady(100)
    done = intended + np.maximum(upstream, 0) + overhead + 300  # 0.3 ms outside the target
    frame = samples(intended, done_us=done).assign(overhead_us=overhead, upstream_us=upstream)
    proxy = _proxy(tmp_path, frame)
    assert proxy.overhead.count == 100
    assert proxy.overhead.values_ms == {"p50": 0.5, "p95": 0.95, "p99": 0.99, "max": 1.0}
    assert proxy.upstream.count == 98 and proxy.upstream.get("p99") == 2.0
    assert proxy.unexplained.count == 98
    assert proxy.unexplained.get("p50") == 0.3 and proxy.unexplained.get("max") == 0.3
    assert proxy.overhead_p95().value == 0.95 and proxy.reason == ""


def test_a_stream_is_unexplained_up_to_its_response_head(tmp_path):
    intended = steady(10)
    ttfb = intended + 2 * MS + 100 + 500  # upstream 2 ms, overhead 0.1 ms, 0.5 ms outside
    frame = samples(intended, done_us=ttfb + 600 * MS, kind="chat-stream").assign(
        ttfb_us=ttfb, first_token_us=ttfb + 10, last_token_us=ttfb + 500 * MS,
        tokens=np.int32(20), overhead_us=100, upstream_us=2 * MS,
    )  # fmt: skip
    proxy = _proxy(tmp_path, frame)
    assert proxy.unexplained.get("max") == 0.5  # not the 600 ms of token pacing


def test_overhead_not_reported_is_no_data(tmp_path):
    frame = samples(steady(100))
    proxy = _proxy(tmp_path, frame)
    assert proxy.overhead.count == 0 and "X-Edge-Overhead-Ms" in proxy.reason
    analysis = analyze_run(
        write_run(tmp_path / "b", frame, targets={"proxy_overhead_p95_ms": "< 5"})
    )
    verdict = analysis.summary["verdicts"][0]
    assert verdict["status"] == "NO DATA" and "overhead" in verdict["reason"]


def cache_frame() -> pd.DataFrame:
    rows = [  # kind, X-Cache-Status, response ms
        *(("a", "HIT", ms) for ms in (1, 2, 3, 4)),
        *(("a", "MISS", ms) for ms in (10, 20)),
        ("b", "HIT", 5), ("b", "MISS", 30), ("b", "MISS", 40), ("b", "BYPASS", 7), ("b", "", 8),
    ]  # fmt: skip
    kinds, cache, response = zip(*rows, strict=True)
    frame = samples(steady(len(rows)), response_us=np.array(response) * MS, kind=list(kinds))
    return frame.assign(cache=list(cache))


def test_cache_hit_ratio_and_latency_split(tmp_path):
    run = load_run(write_run(tmp_path, cache_frame(), targets={}))
    cache = measure_cache(run.samples, judged_window(run.metadata, run.samples))
    assert (cache.hits, cache.misses) == (5, 4)
    assert cache.hit_percent.value == pytest.approx(500 / 9)
    assert cache.latency["HIT"].values_ms == {"p50": 3.0, "p95": 5.0, "p99": 5.0}
    assert cache.latency["MISS"].values_ms == {"p50": 20.0, "p95": 40.0, "p99": 40.0}
    assert cache.ttft == {}  # nothing streamed
    a, b = cache.by_kind["a"], cache.by_kind["b"]
    assert (a["hits"], a["misses"], a["hit_percent"]) == (4, 2, pytest.approx(200 / 3))
    assert (a["hit_p50_ms"], a["hit_p99_ms"], a["miss_p50_ms"]) == (2.0, 4.0, 10.0)
    assert (b["hit_percent"], b["hit_p50_ms"], b["miss_p95_ms"]) == (
        pytest.approx(100 / 3),
        5.0,
        40.0,
    )


def test_cache_hit_percent_verdict_and_no_data(tmp_path):
    targets = {"cache_hit_percent": "> 50"}
    analysis = analyze_run(write_run(tmp_path, cache_frame(), targets=targets))
    verdict = analysis.summary["verdicts"][0]
    assert verdict["status"] == "PASS" and verdict["measured"] == pytest.approx(500 / 9)
    effect = analysis.summary["measurements"]["cache_effect"]
    assert effect["by_status"]["MISS"]["latency_ms"]["p50"] == 20.0
    none = samples(steady(20)).assign(cache="BYPASS")
    analysis = analyze_run(write_run(tmp_path / "none", none, targets=targets))
    verdict = analysis.summary["verdicts"][0]
    assert verdict["status"] == "NO DATA" and "HIT or MISS" in verdict["reason"]
