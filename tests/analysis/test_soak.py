"""Memory growth: a known slope under noise is inside the 95 % interval; warm-up left out."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.measuring.client import Window
from analysis.shapes.soak import memory_growth, warmup_s
from tests.analysis.helpers import S_US, T0_US

T0_S = T0_US / S_US
WINDOW = Window(T0_US, T0_US + 1800 * S_US, "test")  # 30 minutes


def _points(slope_mb_per_h: float, seed: int, step_s: float = 15.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 1800.0 + 1e-9, step_s)
    memory = 300e6 + slope_mb_per_h * 1e6 / 3600.0 * t + rng.normal(0.0, 2e6, len(t))
    memory += np.where(t < 180.0, -200e6 * (1 - t / 180.0), 0.0)  # warm-up: caches fill
    return pd.DataFrame({"timestamp_s": T0_S + t, "value": memory})


def test_warm_up_is_a_tenth_of_the_window_at_most_five_minutes():
    assert warmup_s(1800.0) == 180.0 and warmup_s(12.0) == pytest.approx(1.2)
    assert warmup_s(7200.0) == 300.0


def test_known_slope_with_noise_is_inside_the_interval():
    growth = memory_growth(_points(40.0, seed=3), WINDOW)
    assert growth.low_mb_per_h < 40.0 < growth.high_mb_per_h
    assert growth.slope_mb_per_h == pytest.approx(40.0, abs=5.0)
    assert growth.warmup_s == 180.0 and growth.points == 109  # 180..1800 s every 15 s
    assert growth.fitted_s == 1620.0


def test_interval_covers_the_truth_about_95_percent_of_the_time():
    covered = [
        g.low_mb_per_h < 40.0 < g.high_mb_per_h
        for g in (memory_growth(_points(40.0, seed), WINDOW) for seed in range(200))
    ]
    assert 0.90 <= np.mean(covered) <= 0.99


def test_flat_memory_has_an_interval_around_zero():
    growth = memory_growth(_points(0.0, seed=5), WINDOW)
    assert growth.low_mb_per_h < 0.0 < growth.high_mb_per_h


def test_missing_or_too_few_points_is_nan_with_the_reason():
    empty = pd.DataFrame({"timestamp_s": [], "value": []})
    none = memory_growth(empty, WINDOW, missing="no prometheus/series.parquet")
    assert math.isnan(none.slope_mb_per_h) and "series.parquet" in none.reason
    few = memory_growth(_points(40.0, seed=1, step_s=600.0), WINDOW)
    assert math.isnan(few.slope_mb_per_h) and "at least 4" in few.reason
    assert math.isnan(memory_growth(_points(1.0, 1), None).slope_mb_per_h)
