"""Memory growth of a soak run: the least-squares slope of the server's memory, in MB per hour.

Rule. Take the ``memory_bytes`` points of the most trusted source
(``analysis.measuring.serverside``) that lie in the judged window after a warm-up of
``min(WARMUP_MAX_S, WARMUP_SHARE × window)`` (3 minutes of a 30-minute soak: caches fill and
allocators settle first). Fit value = a + b·t by ordinary least squares; the slope b (bytes/s) ×
3600 / 1e6 is the growth in MB/h (decimal MB, as targets read "MB"), with the 95 % interval b ±
t(0.975, n − 2) · SE(b). At least ``MIN_POINTS`` points are needed. Memory points are
autocorrelated (the RSS moves in steps), so the interval is optimistic for short runs; the slope
itself is unbiased."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.measuring.client import US_PER_S, Window

WARMUP_MAX_S = 300.0
WARMUP_SHARE = 0.1
MIN_POINTS = 4
CONFIDENCE = 0.95
BYTES_PER_MB = 1e6
S_PER_H = 3600.0


@dataclass(frozen=True)
class MemoryGrowth:
    """The slope in MB/h with its interval (NaN and a ``reason`` when it cannot be computed)."""

    slope_mb_per_h: float
    low_mb_per_h: float = math.nan
    high_mb_per_h: float = math.nan
    points: int = 0
    warmup_s: float = 0.0
    fitted_s: float = 0.0  # time between the first and last point fitted
    first_bytes: float = math.nan
    last_bytes: float = math.nan
    reason: str = ""


def warmup_s(window_s: float) -> float:
    """Seconds at the start of the judged window left out of the fit."""
    return min(WARMUP_MAX_S, WARMUP_SHARE * window_s)


def memory_growth(points: pd.DataFrame, window: Window | None, missing: str = "") -> MemoryGrowth:
    """The growth of ``points`` (``timestamp_s``, ``value`` in bytes) over ``window``.

    ``missing`` is the reason to give when there are no points at all (e.g. no series file).
    """
    nan = math.nan
    if points.empty:
        return MemoryGrowth(nan, reason=missing or "no memory_bytes series")
    if window is None:
        return MemoryGrowth(nan, reason="no judged window")
    skip = warmup_s(window.duration_s)
    start_s = window.start_us / US_PER_S + skip
    end_s = window.end_us / US_PER_S
    t = points["timestamp_s"].to_numpy(dtype=float)
    rows = (t >= start_s) & (t <= end_s)
    t, y = t[rows], points["value"].to_numpy(dtype=float)[rows]
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[order]
    n = len(t)
    if n < MIN_POINTS or t[-1] <= t[0]:
        reason = (
            f"{n} memory_bytes point(s) in the judged window after a {skip:g} s warm-up; "
            f"at least {MIN_POINTS} are needed for a slope"
        )
        return MemoryGrowth(nan, points=n, warmup_s=skip, reason=reason)
    fit = stats.linregress(t - t[0], y)
    scale = S_PER_H / BYTES_PER_MB
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 2) * fit.stderr) if n > 2 else nan
    slope = float(fit.slope)
    return MemoryGrowth(
        slope_mb_per_h=slope * scale,
        low_mb_per_h=(slope - half) * scale,
        high_mb_per_h=(slope + half) * scale,
        points=n,
        warmup_s=skip,
        fitted_s=float(t[-1] - t[0]),
        first_bytes=float(y[0]),
        last_bytes=float(y[-1]),
    )


__all__ = [
    "CONFIDENCE",
    "MIN_POINTS",
    "WARMUP_MAX_S",
    "WARMUP_SHARE",
    "MemoryGrowth",
    "memory_growth",
    "warmup_s",
]
