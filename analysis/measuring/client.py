"""Client-side measurements from request samples: the judged window, exact percentiles, rates.

All functions are pure. Percentiles are nearest-rank (the same as numpy's ``inverted_cdf``) on
raw microsecond samples, reported in milliseconds (µs / 1000). A value that cannot be computed is
NaN together with a reason, never 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

US_PER_MS = 1000.0
US_PER_S = 1_000_000
MAX_CATEGORIES = 20  # breakdowns (errors, kinds, models) list at most this many entries

QUANTILES: dict[str, Fraction] = {
    "p50": Fraction(1, 2),
    "p90": Fraction(9, 10),
    "p95": Fraction(19, 20),
    "p99": Fraction(99, 100),
    "p999": Fraction(999, 1000),
    "max": Fraction(1),
}


@dataclass(frozen=True)
class Measured:
    """One measurement: ``value`` is NaN when it cannot be computed, and ``reason`` says why."""

    value: float
    source: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not math.isnan(self.value)


@dataclass(frozen=True)
class Window:
    """The judged (steady) window: rows with ``start_us <= intended_us < end_us``."""

    start_us: int
    end_us: int
    source: str

    @property
    def duration_s(self) -> float:
        return (self.end_us - self.start_us) / US_PER_S


@dataclass(frozen=True)
class Percentiles:
    """Nearest-rank percentiles of ``count`` values, in milliseconds (NaN when count is 0)."""

    count: int = 0
    values_ms: dict[str, float] = field(default_factory=dict)

    def get(self, name: str) -> float:
        return self.values_ms.get(name, math.nan)

    def as_dict(self) -> dict[str, float]:
        return {name: self.get(name) for name in QUANTILES}


@dataclass(frozen=True)
class ClientMeasurements:
    """What the request samples say about the judged window (and a few whole-run counts)."""

    window: Window | None
    requests: int
    requests_sent: int
    errors: int
    requests_total: int
    rate_rps: Measured
    error_ratio: Measured
    response: Percentiles
    service: Percentiles
    lag: Percentiles
    reason: str = ""
    errors_by_class: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, int] = field(default_factory=dict)
    cache: dict[str, int] = field(default_factory=dict)
    bytes_received: int = 0
    negative_service: int = 0
    not_sent: int = 0  # due in the window but never sent (the cap stayed full); errors too
    connect: Percentiles = field(default_factory=Percentiles)  # set-up of opened connections

    @property
    def offered_rps(self) -> float:
        """What the schedule offered in the window: requests measured plus those not sent."""
        window = self.window
        return (self.requests + self.not_sent) / window.duration_s if window else math.nan


def nearest_rank_index(counts: np.ndarray | int, q: Fraction) -> np.ndarray:
    """0-based index of the nearest-rank ``q`` quantile in sorted groups of ``counts`` (>= 1).

    Integer arithmetic (rank = ceil(q * n)) so that, e.g., p99 of 1000 values is exactly the 990th.
    """
    counts = np.asarray(counts, dtype=np.int64)
    rank = (q.numerator * counts + q.denominator - 1) // q.denominator
    return np.maximum(rank, 1) - 1


def percentiles_ms(sorted_us: np.ndarray, names: tuple[str, ...] = tuple(QUANTILES)) -> Percentiles:
    """Nearest-rank percentiles of an ascending int64 µs array, in ms."""
    n = len(sorted_us)
    if n == 0:
        return Percentiles(0, {name: math.nan for name in names})
    values = {
        name: float(sorted_us[int(nearest_rank_index(n, QUANTILES[name]))]) / US_PER_MS
        for name in names
    }
    return Percentiles(n, values)


def judged_window(metadata: dict[str, Any], samples: pd.DataFrame) -> Window | None:
    """The steady window from metadata (judge window, judged stages, load window), else samples."""
    load = metadata.get("load") or {}
    start, end = load.get("judge_start_us"), load.get("judge_end_us")
    source = "metadata load.judge_start_us..judge_end_us"
    judged = [s for s in load.get("stages") or [] if s.get("judge", True)]
    if (start is None or end is None) and judged and all("start_us" in s for s in judged):
        start = min(s["start_us"] for s in judged)
        end = max(s.get("end_us") or start for s in judged)
        source = "judged stages in metadata"
    if start is None or end is None:
        start, end = load.get("start_us"), load.get("end_us")
        source = "whole load window (metadata has no judged window)"
    if (start is None or end is None) and len(samples):
        intended = samples["intended_us"].to_numpy()
        start, end = int(intended.min()), int(intended.max()) + 1
        source = "all samples (metadata has no load window)"
    if start is None or end is None or end <= start:
        return None
    load_end = load.get("end_us")
    if load_end is not None and start < load_end < end:
        end, source = load_end, source + ", cut at the load's end"
    return Window(int(start), int(end), source)


def category_counts(column: pd.Series, mask: np.ndarray, skip_empty: bool = True) -> dict[str, int]:
    """Counts of a categorical column's values where ``mask``, largest first, at most 20."""
    codes = column.cat.codes.to_numpy()[mask]
    counts = np.bincount(codes[codes >= 0], minlength=len(column.cat.categories))
    pairs = [
        (str(cat), int(n))
        for cat, n in zip(column.cat.categories, counts, strict=True)
        if n and not (skip_empty and cat == "")
    ]
    pairs.sort(key=lambda pair: (-pair[1], pair[0]))
    return dict(pairs[:MAX_CATEGORIES])


def failed_mask(samples: pd.DataFrame) -> np.ndarray:
    """True where the request failed (its ``error`` is not empty)."""
    error = samples["error"]
    categories = error.cat.categories
    codes = error.cat.codes.to_numpy()
    ok_code = categories.get_loc("") if "" in categories else -2
    return np.asarray(codes != ok_code)


def _cache_flags(cache: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(has a cache status, is a hit): a hit is any X-Cache-Status containing HIT."""
    names = [str(c).upper() for c in cache.cat.categories]
    codes = cache.cat.codes.to_numpy()
    known = np.array([bool(n) for n in names] + [False], dtype=bool)
    hit = np.array(["HIT" in n for n in names] + [False], dtype=bool)
    return known[codes], hit[codes]  # code -1 (missing) indexes the trailing False


def _by_kind(
    samples: pd.DataFrame, mask: np.ndarray, failed: np.ndarray, duration_s: float
) -> dict[str, dict[str, Any]]:
    """Requests, rate, errors, P50/P95/P99 and cache hit % (of responses with a cache status)."""
    kinds = category_counts(samples["kind"], mask, skip_empty=False)
    codes = samples["kind"].cat.codes.to_numpy()
    response = samples["response_us"].to_numpy()
    has_cache, hit = _cache_flags(samples["cache"])
    out: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        rows = mask & (codes == samples["kind"].cat.categories.get_loc(kind))
        pct = percentiles_ms(np.sort(response[rows]), ("p50", "p95", "p99"))
        with_cache = int((rows & has_cache).sum())
        hits = int((rows & hit).sum())
        out[kind or "(none)"] = {
            "requests": int(rows.sum()),
            "errors": int((rows & failed).sum()),
            **{f"{k}_ms": v for k, v in pct.values_ms.items()},
            "rate_rps": int(rows.sum()) / duration_s,
            "cache_hits": hits,
            "cache_hit_percent": 100.0 * hits / with_cache if with_cache else None,
        }
    return out


def not_sent_in(metadata: dict[str, Any], window: Window | None) -> int:
    """Requests due in ``window`` that the generator never sent (``generator.not_sent_by_s``).

    The counts are per second of the schedule (by intended time); a second counts when it
    starts inside the window, which is exact for windows on whole seconds, as stages are.
    """
    by_second = (metadata.get("generator") or {}).get("not_sent_by_s") or {}
    start_us = (metadata.get("load") or {}).get("start_us")
    if not by_second or window is None or not isinstance(start_us, int):
        return 0
    return sum(
        int(n)
        for second, n in by_second.items()
        if window.start_us <= start_us + int(second) * 1_000_000 < window.end_us
    )


def connection_setup(samples: pd.DataFrame) -> Percentiles:
    """TCP connect + TLS handshake of every connection the run opened (their ``count``)."""
    connect = samples["connect_us"].to_numpy()
    return percentiles_ms(np.sort(connect[connect >= 0]), ("p50", "p99", "max"))


def measure_client(
    samples: pd.DataFrame, window: Window | None, not_sent: int = 0
) -> ClientMeasurements:
    """Rate, error ratio and response/service/lag percentiles of the requests in ``window``.

    ``not_sent`` requests were due in the window but never sent: they count as errors in the
    error ratio (and by class, as "not sent"), not in the percentiles, which only sent requests
    have.
    """
    total = len(samples)
    empty = Percentiles(0, {name: math.nan for name in QUANTILES})
    if total == 0 or window is None:
        reason = "no request samples in the run directory" if total == 0 else "no load window"
        nan = Measured(math.nan, reason=reason)
        return ClientMeasurements(window, 0, 0, 0, total, nan, nan, empty, empty, empty, reason)
    intended = samples["intended_us"].to_numpy()
    sent = samples["sent_us"].to_numpy()
    mask = (intended >= window.start_us) & (intended < window.end_us)
    requests = int(mask.sum())
    requests_sent = int(((sent >= window.start_us) & (sent < window.end_us)).sum())
    failed = failed_mask(samples)
    errors = int((mask & failed).sum())
    rate_source = (
        f"client samples, {requests_sent:,} requests sent in the {window.duration_s:g} s "
        "steady window"
    )
    rate = Measured(requests_sent / window.duration_s, rate_source)
    source = f"client samples, {requests:,} requests in steady window"
    if requests == 0:
        reason = f"no requests with intended_us in the steady window ({window.duration_s:g} s)"
        nan = Measured(math.nan, reason=reason)
        ratio = Measured(1.0, f"{not_sent:,} requests due but not sent") if not_sent else nan
        return ClientMeasurements(
            window, 0, requests_sent, 0, total, rate, ratio, empty, empty, empty, reason,
            errors_by_class={"not sent": not_sent} if not_sent else {}, not_sent=not_sent,
            connect=connection_setup(samples),
        )  # fmt: skip
    if not_sent:
        source += f" and {not_sent:,} due but not sent (counted as errors)"
    by_class = category_counts(samples["error"], mask)
    if not_sent:
        by_class = dict(sorted({**by_class, "not sent": not_sent}.items(), key=lambda kv: -kv[1]))
    service = samples["service_us"].to_numpy()[mask]
    return ClientMeasurements(
        window=window,
        requests=requests,
        requests_sent=requests_sent,
        errors=errors,
        requests_total=total,
        rate_rps=rate,
        error_ratio=Measured((errors + not_sent) / (requests + not_sent), source),
        response=percentiles_ms(np.sort(samples["response_us"].to_numpy()[mask])),
        service=percentiles_ms(np.sort(service)),
        lag=percentiles_ms(np.sort(samples["lag_us"].to_numpy()[mask])),
        errors_by_class=by_class,
        by_kind=_by_kind(samples, mask, failed, window.duration_s),
        models=category_counts(samples["model"], mask),
        cache=category_counts(samples["cache"], mask),
        bytes_received=int(samples["bytes"].to_numpy()[mask].sum()),
        negative_service=int((service < 0).sum()),
        not_sent=not_sent,
        connect=connection_setup(samples),
    )


__all__ = [
    "QUANTILES",
    "ClientMeasurements",
    "Measured",
    "Percentiles",
    "Window",
    "category_counts",
    "connection_setup",
    "failed_mask",
    "judged_window",
    "measure_client",
    "not_sent_in",
    "nearest_rank_index",
    "percentiles_ms",
]
