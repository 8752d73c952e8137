"""Memory shape and sustained growth: plateaus, leaks, a leak after a plateau, noise, steps."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from analysis.measuring.client import Window
from analysis.shapes.soak import memory_growth, steady_start
from tests.analysis.helpers import S_US, T0_US

T0_S = T0_US / S_US
WINDOW = Window(T0_US, T0_US + 1800 * S_US, "test")  # 30 minutes
T_S = np.arange(0.0, 1800.0 + 1e-9, 5.0)  # a point every 5 s
MB = 1e6


def _frame(memory: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"timestamp_s": T0_S + T_S, "value": memory})


def _noise(seed: int, sd_mb: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sd_mb * MB, len(T_S))


def _fill(end_s: float = 540.0, low_mb: float = 45.0, high_mb: float = 149.0) -> np.ndarray:
    """A bounded cache filling at a steady rate until it is full (the soak of the stand-in)."""
    return (low_mb + (high_mb - low_mb) * np.minimum(T_S, end_s) / end_s) * MB


def _leak(mb_per_h: float, from_s: float = 0.0) -> np.ndarray:
    return mb_per_h * MB / 3600.0 * np.clip(T_S - from_s, 0.0, None)


def test_a_cache_filling_then_full_is_a_plateau_not_a_leak():
    # 45 -> 149 MB over 9 minutes, then flat: the old fit after a 3-minute warm-up read 96 MB/h.
    growth = memory_growth(_frame(_fill() + _noise(1)), WINDOW)
    assert growth.shape == "plateau", growth.description
    assert abs(growth.slope_mb_per_h) < 5.0 and growth.low_mb_per_h < 0 < growth.high_mb_per_h
    assert 540.0 <= growth.warmup_s <= 600.0  # the fit starts where the fill ends
    assert growth.rise_bytes == pytest.approx(104 * MB, rel=0.05)
    assert re.match(r"plateaued at 14[89]\.\d MB after 9\.\d min", growth.description)


def test_an_exact_plateau_with_one_allocator_step_is_a_plateau():
    # The RSS of the stand-in: no noise at all, a fill, then one 7 MB step at 930 s.
    memory = _fill() + np.where(T_S >= 930.0, 7 * MB, 0.0)
    growth = memory_growth(_frame(memory), WINDOW)
    assert growth.shape == "plateau" and growth.slope_mb_per_h == 0.0
    assert growth.warmup_s == 930.0 and growth.description.startswith("plateaued at 156.0 MB")


def test_a_linear_leak_is_linear_at_its_slope():
    growth = memory_growth(_frame(300 * MB + _leak(40.0) + _noise(3, 2.0)), WINDOW)
    assert growth.shape == "linear"
    assert growth.low_mb_per_h < 40.0 < growth.high_mb_per_h
    assert growth.slope_mb_per_h == pytest.approx(40.0, abs=4.0)
    assert growth.warmup_s < 600.0 and "linear at" in growth.description


def test_a_leak_after_a_plateau_is_judged_on_the_leak_alone():
    # Fill for 9 minutes, flat until 1000 s, then 100 MB/h: the steady part starts at the leak.
    memory = _fill() + _leak(100.0, from_s=1000.0) + _noise(4)
    growth = memory_growth(_frame(memory), WINDOW)
    assert growth.shape == "linear", growth.description
    assert growth.slope_mb_per_h == pytest.approx(100.0, rel=0.1)
    assert 900.0 <= growth.warmup_s <= 1100.0
    assert "after a rise of" in growth.description


def test_a_leak_under_a_cache_filling_in_the_first_minute_measures_the_leak():
    # The injected leak of the stand-in: 360 MB/h on top of a cache full after 60 s.
    memory = _fill(end_s=60.0, high_mb=60.0) + _leak(360.0) + _noise(5)
    growth = memory_growth(_frame(memory), WINDOW)
    assert growth.shape == "linear" and growth.slope_mb_per_h == pytest.approx(360.0, rel=0.03)


@pytest.mark.parametrize("seed", range(5))
def test_noisy_flat_memory_is_flat(seed):
    growth = memory_growth(_frame(200 * MB + _noise(seed, 5.0)), WINDOW)
    assert growth.shape == "flat", growth.description
    assert abs(growth.slope_mb_per_h) < 10.0


def test_a_rise_still_levelling_off_is_no_data_with_the_window_that_would_tell():
    # Saturating with a time constant of 20 min: 78 % of the way at the end of 30 minutes.
    memory = 100 * MB + 100 * MB * (1 - np.exp(-T_S / 1200.0)) + _noise(6, 0.5)
    growth = memory_growth(_frame(memory), WINDOW)
    assert growth.shape == "growing" and math.isnan(growth.slope_mb_per_h)
    # The level is within 5 % at 3τ = 60 min, and a third of the window must follow: 90 min.
    assert growth.needed_s == pytest.approx(5400.0, rel=0.2)
    assert "judged window of about" in growth.reason and "still" in growth.description


def test_falling_memory_is_falling():
    growth = memory_growth(_frame(300 * MB - _leak(20.0) + _noise(7, 0.5)), WINDOW)
    assert growth.shape == "falling" and growth.slope_mb_per_h == pytest.approx(-20.0, rel=0.1)


def test_the_fitted_line_is_given_from_the_origin():
    origin_us = T0_US - 30 * S_US  # the load started 30 s before the judged window
    growth = memory_growth(_frame(300 * MB + _leak(40.0)), WINDOW, origin_us=origin_us)
    assert growth.fit_start_s == pytest.approx(30.0 + growth.warmup_s)
    assert growth.fit_end_s == pytest.approx(1830.0)
    assert growth.fit_end_bytes - growth.fit_start_bytes == pytest.approx(
        40.0 * MB / 3600.0 * growth.fitted_s, rel=1e-6
    )


def test_steady_start_is_the_knee_and_never_leaves_less_than_a_third():
    t = np.arange(100.0)
    knee = np.minimum(t, 30.0) * MB
    assert steady_start(t, knee) == 30
    ramp = np.minimum(t, 90.0) * MB  # the bend is past the last allowed start
    assert steady_start(t, ramp) <= 67


def test_interval_covers_the_truth_about_95_percent_of_the_time():
    covered = [
        g.low_mb_per_h < 40.0 < g.high_mb_per_h
        for g in (
            memory_growth(_frame(300 * MB + _leak(40.0) + _noise(seed, 2.0)), WINDOW)
            for seed in range(100)
        )
    ]
    assert 0.85 <= np.mean(covered) <= 1.0


def test_missing_or_too_few_points_is_nan_with_the_reason():
    empty = pd.DataFrame({"timestamp_s": [], "value": []})
    none = memory_growth(empty, WINDOW, missing="no prometheus/series.parquet")
    assert math.isnan(none.slope_mb_per_h) and "series.parquet" in none.reason
    few = _frame(300 * MB + _leak(40.0)).iloc[::150]
    assert math.isnan(memory_growth(few, WINDOW).slope_mb_per_h)
    assert "at least 4" in memory_growth(few, WINDOW).reason
    assert math.isnan(memory_growth(_frame(300 * MB + _leak(1.0)), None).slope_mb_per_h)
