"""Client-side measurements from request samples: the judged window, exact percentiles, rates.

All functions are pure. Percentiles are nearest-rank (the same as numpy's ``inverted_cdf``) on
raw microsecond samples, reported in milliseconds (µs / 1000). A value that cannot be computed is
NaN together with a reason, never 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.measuring.tally import (
    QUANTILES,
    US_PER_MS,
    Percentiles,
    Tally,
    nearest_rank_index,
)
from analysis.reading.samples import FrameSamples, SampleSpan

US_PER_S = 1_000_000
MAX_CATEGORIES = 20  # breakdowns (errors, kinds, models) list at most this many entries


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

    def holds(self, t_us: np.ndarray) -> np.ndarray:
        """Which of the times ``t_us`` (epoch µs) fall in the window: start inclusive, end not."""
        return (t_us >= self.start_us) & (t_us < self.end_us)


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


def span_of(samples: pd.DataFrame | SampleSpan) -> SampleSpan:
    """The span of a frame of samples (a span stays as it is)."""
    if isinstance(samples, SampleSpan):
        return samples
    return FrameSamples(samples).span()


def judged_window(metadata: dict[str, Any], samples: pd.DataFrame | SampleSpan) -> Window | None:
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
    span = span_of(samples)
    if (start is None or end is None) and span.rows:
        start, end = span.first_intended_us, int(span.last_intended_us or 0) + 1
        source = "all samples (metadata has no load window)"
    if start is None or end is None or end <= start:
        return None
    load_end = load.get("end_us")
    if load_end is not None and start < load_end < end:
        end, source = load_end, source + ", cut at the load's end"
    return Window(int(start), int(end), source)


def code_counts(column: pd.Series, mask: np.ndarray, skip_empty: bool = True) -> dict[str, int]:
    """Counts of every value of a categorical column where ``mask`` (those not 0)."""
    codes = column.cat.codes.to_numpy()[mask]
    counts = np.bincount(codes[codes >= 0], minlength=len(column.cat.categories))
    return {
        str(cat): int(n)
        for cat, n in zip(column.cat.categories, counts, strict=True)
        if n and not (skip_empty and cat == "")
    }


def largest(counts: dict[str, int], top: int = MAX_CATEGORIES) -> dict[str, int]:
    """The ``top`` largest counts, largest first (ties by name)."""
    pairs = [(name, n) for name, n in counts.items() if n]
    pairs.sort(key=lambda pair: (-pair[1], pair[0]))
    return dict(pairs[:top])


def category_counts(column: pd.Series, mask: np.ndarray, skip_empty: bool = True) -> dict[str, int]:
    """Counts of a categorical column's values where ``mask``, largest first, at most 20."""
    return largest(code_counts(column, mask, skip_empty))


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


def _tally_kinds(samples: pd.DataFrame, mask: np.ndarray, failed: np.ndarray, t: Tally) -> None:
    """Requests, errors, response times and cache hits of each kind where ``mask``."""
    kinds = code_counts(samples["kind"], mask, skip_empty=False)
    t.category("kind", kinds)
    codes = samples["kind"].cat.codes.to_numpy()
    response = samples["response_us"].to_numpy()
    has_cache, hit = _cache_flags(samples["cache"])
    for kind in kinds:
        rows = mask & (codes == samples["kind"].cat.categories.get_loc(kind))
        t.values(f"kind:{kind}", response[rows])
        t.add(f"kind_errors:{kind}", int((rows & failed).sum()))
        t.add(f"kind_cached:{kind}", int((rows & has_cache).sum()))
        t.add(f"kind_hits:{kind}", int((rows & hit).sum()))


def _by_kind(t: Tally, duration_s: float) -> dict[str, dict[str, Any]]:
    """Requests, rate, errors, P50/P95/P99 and cache hit % (of responses with a cache status)."""
    out: dict[str, dict[str, Any]] = {}
    for kind, requests in largest(dict(t.categories.get("kind", {}))).items():
        pct = t.percentiles_ms(f"kind:{kind}", ("p50", "p95", "p99"))
        with_cache, hits = t.counts[f"kind_cached:{kind}"], t.counts[f"kind_hits:{kind}"]
        out[kind or "(none)"] = {
            "requests": requests,
            "errors": t.counts[f"kind_errors:{kind}"],
            **{f"{k}_ms": v for k, v in pct.values_ms.items()},
            "rate_rps": requests / duration_s,
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
    t = Tally()
    tally_client(samples, None, t)
    return _connect(t)


def _connect(t: Tally) -> Percentiles:
    return t.percentiles_ms("connect", ("p50", "p99", "max"))


def tally_client(samples: pd.DataFrame, window: Window | None, t: Tally) -> None:
    """Add one block of samples to what ``client_from`` reads."""
    t.add("rows", len(samples))
    connect = samples["connect_us"].to_numpy()
    t.values("connect", connect[connect >= 0])
    if window is None or not len(samples):
        return
    intended = samples["intended_us"].to_numpy()
    sent = samples["sent_us"].to_numpy()
    mask = window.holds(intended)
    t.add("requests", int(mask.sum()))
    t.add("requests_sent", int(window.holds(sent).sum()))
    failed = failed_mask(samples)
    t.add("errors", int((mask & failed).sum()))
    t.category("error", code_counts(samples["error"], mask))
    service = samples["service_us"].to_numpy()[mask]
    t.values("response", samples["response_us"].to_numpy()[mask])
    t.values("service", service)
    t.values("lag", samples["lag_us"].to_numpy()[mask])
    _tally_kinds(samples, mask, failed, t)
    t.category("model", code_counts(samples["model"], mask))
    t.category("cache", code_counts(samples["cache"], mask))
    t.add("bytes", int(samples["bytes"].to_numpy()[mask].sum()))
    t.add("negative_service", int((service < 0).sum()))


def measure_client(
    samples: pd.DataFrame, window: Window | None, not_sent: int = 0
) -> ClientMeasurements:
    """Rate, error ratio and response/service/lag percentiles of the requests in ``window``.

    ``not_sent`` requests were due in the window but never sent: they count as errors in the
    error ratio (and by class, as "not sent"), not in the percentiles, which only sent requests
    have.
    """
    t = Tally()
    tally_client(samples, window, t)
    return client_from(t, window, not_sent)


def client_from(t: Tally, window: Window | None, not_sent: int = 0) -> ClientMeasurements:
    """The client measurements of the samples added to ``t`` by ``tally_client``."""
    total = t.counts["rows"]
    empty = Percentiles(0, {name: math.nan for name in QUANTILES})
    if total == 0 or window is None:
        reason = "no request samples in the run directory" if total == 0 else "no load window"
        nan = Measured(math.nan, reason=reason)
        return ClientMeasurements(window, 0, 0, 0, total, nan, nan, empty, empty, empty, reason)
    requests, requests_sent = t.counts["requests"], t.counts["requests_sent"]
    errors = t.counts["errors"]
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
            connect=_connect(t),
        )  # fmt: skip
    if not_sent:
        source += f" and {not_sent:,} due but not sent (counted as errors)"
    by_class = largest(dict(t.categories.get("error", {})))
    if not_sent:
        by_class = dict(sorted({**by_class, "not sent": not_sent}.items(), key=lambda kv: -kv[1]))
    return ClientMeasurements(
        window=window,
        requests=requests,
        requests_sent=requests_sent,
        errors=errors,
        requests_total=total,
        rate_rps=rate,
        error_ratio=Measured((errors + not_sent) / (requests + not_sent), source),
        response=t.percentiles_ms("response"),
        service=t.percentiles_ms("service"),
        lag=t.percentiles_ms("lag"),
        errors_by_class=by_class,
        by_kind=_by_kind(t, window.duration_s),
        models=largest(dict(t.categories.get("model", {}))),
        cache=largest(dict(t.categories.get("cache", {}))),
        bytes_received=t.counts["bytes"],
        negative_service=t.counts["negative_service"],
        not_sent=not_sent,
        connect=_connect(t),
    )


__all__ = [
    "QUANTILES",
    "ClientMeasurements",
    "Measured",
    "Percentiles",
    "Window",
    "category_counts",
    "client_from",
    "code_counts",
    "connection_setup",
    "failed_mask",
    "judged_window",
    "measure_client",
    "not_sent_in",
    "nearest_rank_index",
    "largest",
    "percentiles_ms",
    "span_of",
    "tally_client",
]
