"""Per-second series, the scheduled rate and the latency spectrum."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.measuring.client import Window, failed_mask
from analysis.measuring.timeseries import latency_spectrum, per_second, target_rate, time_origin_us
from analysis.reading.rundir import load_run
from tests.analysis.helpers import S_US, T0_US, metadata, samples, steady, write_run


def test_per_second_counts_and_percentiles(tmp_path):
    first = samples(steady(10, rate_rps=10), response_us=np.arange(1, 11) * 1000)
    second = samples(steady(20, rate_rps=20, start_us=T0_US + S_US), response_us=500)
    run = load_run(write_run(tmp_path, pd.concat([first, second], ignore_index=True)))
    frame = per_second(run.samples, T0_US, failed_mask(run.samples))
    assert list(frame["t_s"]) == [0.0, 1.0]
    assert list(frame["rate_rps"]) == [10.0, 20.0]
    assert list(frame["p50_ms"]) == [5.0, 0.5]
    assert list(frame["p99_ms"]) == [10.0, 0.5]


def test_per_second_leaves_empty_seconds_nan(tmp_path):
    frame_in = samples([T0_US, T0_US + 2 * S_US + 1])
    run = load_run(write_run(tmp_path, frame_in))
    frame = per_second(run.samples, T0_US, failed_mask(run.samples))
    assert list(frame["requests"]) == [1, 0, 1]
    assert np.isnan(frame["p95_ms"].iloc[1])


def test_target_rate_from_stages():
    meta = metadata()
    meta["load"]["stages"] = [
        {"start_us": T0_US, "end_us": T0_US + 2 * S_US, "start_rps": 0.0, "end_rps": 100.0},
        {
            "start_us": T0_US + 2 * S_US,
            "end_us": T0_US + 5 * S_US,
            "start_rps": 100.0,
            "end_rps": 100.0,
        },
    ]
    frame = target_rate(meta, T0_US)
    assert list(frame["t_s"]) == [0.0, 2.0, 2.0, 5.0]
    assert list(frame["rate_rps"]) == [0.0, 100.0, 100.0, 100.0]


def test_target_rate_without_stages_uses_the_judged_window():
    frame = target_rate(metadata(rate_rps=50.0), T0_US)
    assert list(frame["rate_rps"]) == [50.0, 50.0]
    assert list(frame["t_s"]) == [0.0, 10.0]


def test_time_origin_prefers_the_load_start(tmp_path):
    run = load_run(write_run(tmp_path, samples(steady(5, start_us=T0_US + 7))))
    assert time_origin_us(run.metadata, run.samples) == T0_US
    assert time_origin_us({}, run.samples) == T0_US + 7


def test_spectrum_ends_at_the_maximum(tmp_path):
    run = load_run(write_run(tmp_path, samples(steady(1000), response_us=np.arange(1, 1001))))
    spectrum = latency_spectrum(run.samples, Window(T0_US, T0_US + 10 * S_US, "test"))
    assert spectrum["response_ms"].iloc[0] == pytest.approx(0.001)
    assert spectrum["response_ms"].iloc[-1] == 1.0
    assert spectrum["response_ms"].is_monotonic_increasing
