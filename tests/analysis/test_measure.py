"""Client measurements: exact nearest-rank percentiles, the judged window, rates and errors."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from analysis.measuring.client import (
    QUANTILES,
    judged_window,
    measure_client,
    nearest_rank_index,
    not_sent_in,
    percentiles_ms,
)
from analysis.reading.rundir import load_run
from tests.analysis.helpers import S_US, T0_US, metadata, samples, steady, write_run


def _client(tmp_path, frame, meta=None):
    run = load_run(write_run(tmp_path, frame, meta=meta))
    return measure_client(run.samples, judged_window(run.metadata, run.samples))


def test_percentiles_of_1_to_1000_us_are_exact(tmp_path):
    rng = np.random.default_rng(7)
    response = rng.permutation(np.arange(1, 1001))
    client = _client(tmp_path, samples(steady(1000), response_us=response))
    assert client.response.as_dict() == {
        "p50": 0.5,
        "p90": 0.9,
        "p95": 0.95,
        "p99": 0.99,
        "p999": 0.999,
        "max": 1.0,
    }


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 99, 100, 101, 999, 1000, 1001, 12345])
def test_nearest_rank_matches_numpy_inverted_cdf(n):
    values = np.sort(np.random.default_rng(n).integers(0, 10**6, n))
    for q in QUANTILES.values():
        expected = np.quantile(values, float(q), method="inverted_cdf")
        assert values[int(nearest_rank_index(n, q))] == expected


def test_nearest_rank_index_of_groups():
    counts = np.array([1, 2, 10, 100])
    assert list(nearest_rank_index(counts, Fraction(1, 2))) == [0, 0, 4, 49]
    assert list(nearest_rank_index(counts, Fraction(99, 100))) == [0, 1, 9, 98]


def test_percentiles_of_nothing_are_nan():
    result = percentiles_ms(np.array([], dtype=np.int64))
    assert result.count == 0
    assert all(math.isnan(v) for v in result.as_dict().values())


def test_window_excludes_ramp_rows(tmp_path):
    ramp = samples(steady(100, start_us=T0_US), response_us=900_000)
    steady_rows = samples(steady(1000, start_us=T0_US + S_US), response_us=2000)
    frame = pd.concat([ramp, steady_rows], ignore_index=True)
    meta = metadata(start_us=T0_US, judge_start_us=T0_US + S_US, judge_end_us=T0_US + 11 * S_US)
    client = _client(tmp_path, frame, meta)
    assert client.requests == 1000
    assert client.requests_total == 1100
    assert client.response.get("max") == 2.0
    assert client.rate_rps.value == pytest.approx(100.0)
    assert client.window is not None and client.window.duration_s == 10.0


def test_window_end_is_exclusive(tmp_path):
    frame = samples([T0_US, T0_US + 10 * S_US], response_us=[1000, 5000])
    client = _client(tmp_path, frame)
    assert client.requests == 1
    assert client.response.get("max") == 1.0


def test_response_time_counts_from_intended_and_service_from_sent(tmp_path):
    intended = steady(100)
    sent = intended + 5000  # the generator was 5 ms late
    frame = samples(intended, sent_us=sent, done_us=sent + 1000)
    client = _client(tmp_path, frame)
    assert client.response.get("p50") == 6.0
    assert client.service.get("p50") == 1.0
    assert client.lag.get("p99") == 5.0


def test_rate_counts_sends_within_the_window(tmp_path):
    intended = steady(1000)
    sent = intended.copy()
    sent[-100:] += 20 * S_US  # sent after the window closed
    client = _client(tmp_path, samples(intended, sent_us=sent, done_us=sent + 1))
    assert client.requests == 1000
    assert client.requests_sent == 900
    assert client.rate_rps.value == pytest.approx(90.0)


def test_error_rate_is_failed_over_all_requests_and_failures_count_for_latency(tmp_path):
    errors = np.array([""] * 993 + ["timeout"] * 5 + ["http_503"] * 2, dtype=object)
    response = np.where(errors == "", 1000, 9_000_000)
    client = _client(tmp_path, samples(steady(1000), response_us=response, error=errors))
    assert client.errors == 7
    assert client.error_ratio.value == pytest.approx(0.007)
    assert client.errors_by_class == {"timeout": 5, "http_503": 2}
    assert client.response.get("max") == 9000.0


def test_no_samples_gives_nan_with_reason(tmp_path):
    client = _client(tmp_path, None)
    assert math.isnan(client.rate_rps.value)
    assert math.isnan(client.response.get("p50"))
    assert "no request samples" in client.reason


def test_window_falls_back_to_judged_stages(tmp_path):
    stages = [
        {"start_us": T0_US, "end_us": T0_US + S_US, "start_rps": 0, "end_rps": 100, "judge": False},
        {"start_us": T0_US + S_US, "end_us": T0_US + 3 * S_US, "start_rps": 100, "end_rps": 100},
    ]
    meta = metadata(judge_start_us=None, judge_end_us=None, end_us=T0_US + 3 * S_US)
    meta["load"]["stages"] = stages
    run = load_run(write_run(tmp_path, samples(steady(300)), meta=meta))
    window = judged_window(run.metadata, run.samples)
    assert window is not None
    assert (window.start_us, window.end_us) == (T0_US + S_US, T0_US + 3 * S_US)
    assert window.source == "judged stages in metadata"


def test_window_is_cut_at_the_load_end_of_an_interrupted_run(tmp_path):
    meta = metadata(judge_end_us=T0_US + 10 * S_US, end_us=T0_US + 4 * S_US)
    run = load_run(write_run(tmp_path, samples(steady(400)), meta=meta))
    window = judged_window(run.metadata, run.samples)
    assert window is not None and window.duration_s == 4.0


def test_breakdowns_by_kind_and_model(tmp_path):
    kinds = np.array(["chat"] * 90 + ["health"] * 10, dtype=object)
    models = np.where(kinds == "chat", "gpt-4o-mini", "")
    client = _client(tmp_path, samples(steady(100), kind=kinds, model=models))
    assert client.by_kind["chat"]["requests"] == 90
    assert client.by_kind["health"]["p50_ms"] == 1.0
    assert client.models == {"gpt-4o-mini": 90}


def test_by_kind_rate_and_cache_hit_share(tmp_path):
    kinds = np.array(["chat"] * 900 + ["health"] * 100, dtype=object)
    frame = samples(steady(1000), kind=kinds)
    frame["cache"] = np.array(["HIT", "MISS", "L2-HIT"] * 300 + [""] * 100, dtype=object)
    client = _client(tmp_path, frame)
    chat, health = client.by_kind["chat"], client.by_kind["health"]
    assert chat["rate_rps"] == 90.0 and health["rate_rps"] == 10.0  # 10 s window
    assert chat["cache_hits"] == 600 and round(chat["cache_hit_percent"], 6) == round(200 / 3, 6)
    assert health["cache_hits"] == 0 and health["cache_hit_percent"] is None


def test_requests_not_sent_count_as_errors_in_their_window(tmp_path):
    # 10 s steady window at 100 req/s; seconds 2 and 3 also had 50 and 30 requests due that
    # were never sent, and second 12 (after the window) had 99 more.
    meta = metadata(
        judge_start_us=T0_US + 1 * S_US,
        judge_end_us=T0_US + 11 * S_US,
        generator={"not_sent": 179, "not_sent_by_s": {"2": 50, "3": 30, "12": 99}},
    )
    run = load_run(write_run(tmp_path, samples(steady(1100), response_us=1000), meta=meta))
    window = judged_window(run.metadata, run.samples)
    assert not_sent_in(run.metadata, window) == 80
    client = measure_client(run.samples, window, not_sent_in(run.metadata, window))
    assert (client.requests, client.errors, client.not_sent) == (1000, 0, 80)
    assert client.error_ratio.value == pytest.approx(80 / 1080)
    assert client.errors_by_class == {"not sent": 80}
    assert client.offered_rps == pytest.approx(108.0)
    assert client.rate_rps.value == pytest.approx(100.0)  # what was sent, not what was due
    assert client.response.count == 1000  # only sent requests have a latency


def test_a_window_where_nothing_was_sent_is_all_errors(tmp_path):
    meta = metadata(generator={"not_sent": 500, "not_sent_by_s": {"0": 500}})
    run = load_run(write_run(tmp_path, samples(steady(10, start_us=T0_US + 20 * S_US)), meta=meta))
    window = judged_window(run.metadata, run.samples)
    client = measure_client(run.samples, window, not_sent_in(run.metadata, window))
    assert client.requests == 0 and client.error_ratio.value == 1.0
    assert client.errors_by_class == {"not sent": 500}
