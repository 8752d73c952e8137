"""Memory growth of a soak run: where the server's memory settles, and its sustained slope in MB/h.

Rule. Take the ``memory_bytes`` points of the most trusted source
(``analysis.measuring.serverside``) in the judged window. A bounded cache filling, a heap
growing to its working size or an allocator settling all rise first and then level off; a leak
keeps growing. So the fit starts where the memory is steady, found by the MSER rule of
simulation output analysis (White 1997) with a line in place of a constant mean: the start
``d`` (of those leaving at least ``STEADY_MIN_SHARE`` of the window and ``MIN_POINTS`` points)
that minimises SSE(line fitted to points d..n) / (n − d)². Before a level-off, cutting later
removes the bend and the SSE falls faster than the points; on a line, every cut only loses points.

Over the steady part, value = a + b·t by ordinary least squares; b (bytes/s) × 3600 / 1e6 is the
sustained growth in MB/h (decimal MB, as targets read "MB"), with the 95 % interval b ±
t(0.975, n − 2) · SE(b) (optimistic: memory points are autocorrelated and move in steps).

Shape. ``noise`` is the residual standard deviation of that fit. The steady part grows when it
rises by more than max(``NOISE_K`` · noise, ``MIN_GROWTH_BYTES``) and its interval excludes 0.
It is ``growing`` (still levelling off: too short to know) when the slopes of the thirds of the
steady part, or of the whole window, fall one after the other by more than ``NOISE_K`` standard
errors to below ``CURVE_RATIO`` of the first (a plateau then a leak falls, then rises: not this);
then the slope is not judged (NO DATA) and ``needed_s`` says how long a judged window would tell,
from a saturating curve c − r·exp(−t/τ) fitted beside the line (the level is reached within 5 %
at 3τ, which must leave ``STEADY_MIN_SHARE`` of the window after it). Else it is ``linear``
(grows), ``falling``, ``plateau`` (steady after a rise of more than the growth threshold) or
``flat``."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special  # scipy.stats and .optimize cost ~1 s to import; see needed_window_s

from analysis.measuring.client import US_PER_S, Window

STEADY_MIN_SHARE = 1 / 3  # the steady part fitted is at least this share of the judged window
MIN_POINTS = 4
CONFIDENCE = 0.95
NOISE_K = 3.0
MIN_GROWTH_BYTES = 65_536.0  # 16 pages: growth below this is flat whatever the noise
CURVE_RATIO = 0.6
SATURATION_TAUS = 3.0  # e^-3 ≈ 5 %: the level is reached to within 5 % after 3 time constants
BYTES_PER_MB = 1e6
S_PER_H = 3600.0
S_PER_MIN = 60.0
_TIE_MB2 = 1e-9  # scores (MB²) closer than this are equal: rounding of the suffix sums

SHAPES = ("flat", "plateau", "linear", "falling", "growing")


@dataclass(frozen=True)
class MemoryGrowth:
    """The sustained slope in MB/h with its interval, the shape, and the fitted line.

    NaN slope and a ``reason`` when it cannot be judged. Times ``*_s`` of the fit are seconds from
    ``origin`` (the load's start when given, else the judged window's start); ``warmup_s`` is the
    part of the judged window before the steady part, left out of the fit.
    """

    slope_mb_per_h: float
    low_mb_per_h: float = math.nan
    high_mb_per_h: float = math.nan
    points: int = 0
    warmup_s: float = 0.0
    fitted_s: float = 0.0  # time between the first and last point fitted
    first_bytes: float = math.nan
    last_bytes: float = math.nan
    shape: str = ""
    description: str = ""
    rise_bytes: float = math.nan  # growth before the steady part (line start − first point)
    noise_bytes: float = math.nan
    fit_start_s: float = math.nan
    fit_end_s: float = math.nan
    fit_start_bytes: float = math.nan  # the fitted line at its ends
    fit_end_bytes: float = math.nan
    needed_s: float = math.nan  # for ``growing``: the judged window that would tell
    reason: str = ""


@dataclass(frozen=True)
class _Line:
    slope: float  # bytes/s
    intercept: float  # bytes at t = 0
    stderr: float
    noise: float  # residual standard deviation, bytes


def _line(t: np.ndarray, y: np.ndarray) -> _Line:
    """Least squares, as scipy.stats.linregress computes it (slope's standard error included)."""
    dt = t - t.mean()
    ssxm = float(np.sum(dt**2))
    slope = float(np.sum(dt * (y - y.mean())) / ssxm) if ssxm > 0 else 0.0
    intercept = float(y.mean() - slope * t.mean())
    residual = y - (intercept + slope * t)
    df = max(len(t) - 2, 1)
    noise = float(np.sqrt(np.sum(residual**2) / df))
    # Exactly constant memory (an RSS that did not move) has a sure slope: a standard error of 0.
    stderr = noise / math.sqrt(ssxm) if ssxm > 0 and len(t) > 2 else 0.0
    return _Line(slope, intercept, stderr, noise)


def steady_start(t: np.ndarray, y: np.ndarray) -> int:
    """Index of the first steady point: MSER with a line (see the module docstring).

    ``t`` ascending (s), ``y`` bytes; at least ``MIN_POINTS`` points.
    """
    n = len(t)
    # Centred and in MB, so that the suffix sums below keep their precision.
    tc, yc = t - t.mean(), (y - y.mean()) / BYTES_PER_MB

    def suffix(a: np.ndarray) -> np.ndarray:
        return np.cumsum(a[::-1])[::-1]

    m = np.arange(n, 0, -1, dtype=float)  # points from each start to the end
    st, sy = suffix(tc), suffix(yc)
    sxx = suffix(tc * tc) - st * st / m
    sxy = suffix(tc * yc) - st * sy / m
    syy = suffix(yc * yc) - sy * sy / m
    with np.errstate(divide="ignore", invalid="ignore"):
        sse = np.clip(syy - np.where(sxx > 0, sxy * sxy / sxx, 0.0), 0.0, None)
        score = sse / (m * m)
    candidates = np.arange(latest_start(t) + 1)
    best = score[candidates].min()
    # Ties (exactly flat memory: rounding decides) go to the earliest start: more points, same fit.
    tied = score[candidates] <= best * (1 + 1e-6) + _TIE_MB2
    return int(candidates[np.argmax(tied)])


def latest_start(t: np.ndarray) -> int:
    """The last start ``steady_start`` may choose (``STEADY_MIN_SHARE`` of the window after it)."""
    span = t[-1] - t[0]
    allowed = (t[-1] - t >= STEADY_MIN_SHARE * span - 1e-9) & (
        np.arange(len(t), 0, -1) >= MIN_POINTS
    )
    return int(np.flatnonzero(allowed)[-1])


def _grows(change_bytes: float, noise: float) -> bool:
    return abs(change_bytes) > max(NOISE_K * noise, MIN_GROWTH_BYTES)


def _slowing(t: np.ndarray, y: np.ndarray) -> bool:
    """Whether ``y`` rises ever slower: the slopes of its thirds fall, each clearly, to below
    ``CURVE_RATIO`` of the first (a rise levelling off; a plateau then a leak falls, then rises)."""
    edges = t[0] + (t[-1] - t[0]) * np.array([1 / 3, 2 / 3])
    parts = np.split(np.arange(len(t)), np.searchsorted(t, edges))
    if min(len(p) for p in parts) < 3:
        return False
    lines = [_line(t[p], y[p]) for p in parts]
    first = lines[0]
    if not _grows(first.slope * (t[parts[0][-1]] - t[0]), first.noise):
        return False
    falling = all(
        a.slope - b.slope > NOISE_K * math.hypot(a.stderr, b.stderr)
        for a, b in zip(lines, lines[1:], strict=False)
    )
    return falling and 0 < lines[-1].slope < CURVE_RATIO * first.slope


def needed_window_s(t: np.ndarray, y: np.ndarray) -> float:
    """The judged window that would show the level of a saturating rise (at least 1.5× this one).

    Fits c − r·exp(−t/τ); the level is reached at ``SATURATION_TAUS``·τ and a steady part of
    ``STEADY_MIN_SHARE`` must follow it.
    """
    span = float(t[-1] - t[0])
    floor_s = 1.5 * span
    x = t - t[0]
    ys = (y - y[0]) / BYTES_PER_MB

    def curve(x: np.ndarray, c: float, r: float, tau: float) -> np.ndarray:
        return c - r * np.exp(-x / tau)

    from scipy import optimize  # only for a growth still slowing: its import is costly

    try:
        with warnings.catch_warnings():  # an inestimable covariance is no matter: τ is all we use
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            (_, _, tau), _ = optimize.curve_fit(
                curve,
                x,
                ys,
                p0=(float(ys[-1]) * 1.5, float(ys[-1]) * 1.5, span),
                bounds=([-np.inf, 0.0, span / 100.0], [np.inf, np.inf, span * 100.0]),
                maxfev=2000,
            )
    except (RuntimeError, ValueError):
        return floor_s
    return max(floor_s, SATURATION_TAUS * float(tau) / (1.0 - STEADY_MIN_SHARE))


def _mb(value_bytes: float) -> str:
    return f"{value_bytes / BYTES_PER_MB:,.1f} MB"


def _min(seconds: float) -> str:
    return f"{seconds / S_PER_MIN:.1f} min"


def memory_growth(
    points: pd.DataFrame,
    window: Window | None,
    missing: str = "",
    origin_us: int | None = None,
) -> MemoryGrowth:
    """The shape and sustained growth of ``points`` (``timestamp_s``, ``value`` in bytes).

    ``missing`` is the reason to give when there are no points at all (e.g. no series file);
    ``origin_us`` is where the fit's times count from (default: the window's start).
    """
    nan = math.nan
    if points.empty:
        return MemoryGrowth(nan, reason=missing or "no memory_bytes series")
    if window is None:
        return MemoryGrowth(nan, reason="no judged window")
    start_s, end_s = window.start_us / US_PER_S, window.end_us / US_PER_S
    origin_s = (window.start_us if origin_us is None else origin_us) / US_PER_S
    t = points["timestamp_s"].to_numpy(dtype=float)
    rows = (t >= start_s) & (t <= end_s) & np.isfinite(points["value"].to_numpy(dtype=float))
    t, y = t[rows], points["value"].to_numpy(dtype=float)[rows]
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[order]
    n = len(t)
    if n < MIN_POINTS or t[-1] <= t[0]:
        reason = (
            f"{n} memory_bytes point(s) in the judged window; at least {MIN_POINTS} are needed "
            "for a slope"
        )
        return MemoryGrowth(nan, points=n, reason=reason)
    d = steady_start(t, y)
    ts, ys = t[d:], y[d:]
    line = _line(ts - ts[0], ys)
    fitted_s = float(ts[-1] - ts[0])
    half = float(special.stdtrit(len(ts) - 2, 0.5 + CONFIDENCE / 2) * line.stderr)
    if len(ts) <= 2:
        half = nan
    fit_start, fit_end = line.intercept, line.intercept + line.slope * fitted_s
    rise = fit_start - float(y[0]) if d > 0 else 0.0
    warm_s = float(ts[0] - start_s)
    at_s = float(ts[0] - origin_s)
    significant = not (line.slope - half <= 0.0 <= line.slope + half)
    scale = S_PER_H / BYTES_PER_MB
    slope = line.slope * scale
    needed = nan
    reason = ""
    if significant and _grows(fit_end - fit_start, line.noise) and line.slope > 0:
        if _slowing(ts, ys) or _slowing(t, y):
            shape = "growing"
            needed = needed_window_s(t, y)
            description = (
                f"still growing: {_mb(fit_end)} at the end, rising ever slower (was {slope:,.1f} "
                f"MB/h over the last {_min(fitted_s)})"
            )
            reason = (
                f"memory was still levelling off at the end of the {_min(t[-1] - t[0])} judged "
                f"window (a filling cache or a leak cannot be told apart yet); a judged window "
                f"of about {_min(needed)} (--duration) would show where it settles"
            )
            slope = nan
        else:
            shape = "linear"
            description = f"linear at {slope:,.1f} MB/h from {_min(at_s)}"
            if _grows(rise, line.noise):
                description += f", after a rise of {_mb(rise)} before it"
    elif significant and _grows(fit_end - fit_start, line.noise):
        shape = "falling"
        description = f"falling at {slope:,.1f} MB/h from {_min(at_s)} to {_mb(fit_end)}"
    elif d > 0 and _grows(rise, line.noise):
        shape = "plateau"
        level = float(np.mean(ys))
        description = f"plateaued at {_mb(level)} after {_min(at_s)} (rose {_mb(rise)} before)"
    else:
        shape = "flat"
        description = f"flat at {_mb(float(np.mean(ys)))} (±{_mb(line.noise)})"
    return MemoryGrowth(
        slope_mb_per_h=slope,
        low_mb_per_h=(line.slope - half) * scale if not math.isnan(slope) else nan,
        high_mb_per_h=(line.slope + half) * scale if not math.isnan(slope) else nan,
        points=len(ts),
        warmup_s=warm_s,
        fitted_s=fitted_s,
        first_bytes=float(ys[0]),
        last_bytes=float(ys[-1]),
        shape=shape,
        description=description,
        rise_bytes=rise,
        noise_bytes=line.noise,
        fit_start_s=at_s,
        fit_end_s=float(ts[-1] - origin_s),
        fit_start_bytes=fit_start,
        fit_end_bytes=fit_end,
        needed_s=needed,
        reason=reason,
    )


__all__ = [
    "CONFIDENCE",
    "MIN_POINTS",
    "SHAPES",
    "STEADY_MIN_SHARE",
    "MemoryGrowth",
    "memory_growth",
    "needed_window_s",
    "latest_start",
    "steady_start",
]
