"""Cache effectiveness from the client's side: hit ratio and latency split by HIT and MISS.

A response is a hit when its X-Cache-Status contains HIT, a miss when it contains MISS; others
(BYPASS, none) are neither. The hit ratio is HIT / (HIT + MISS) over the requests intended in
the judged window. Latency is response time from the intended send; for streamed requests the
time to first token is split too (their full response time is mostly token pacing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.measuring.client import Measured, Percentiles, Window
from analysis.measuring.tally import Tally

SPLIT_QUANTILES = ("p50", "p95", "p99")
STATUSES = ("HIT", "MISS")
NO_STATUS = "no response in the steady window carried an X-Cache-Status of HIT or MISS"


@dataclass(frozen=True)
class CacheEffect:
    """Hits, misses and the hit ratio (%), with latency percentiles by status and by kind."""

    hits: int = 0
    misses: int = 0
    hit_percent: Measured = Measured(math.nan, reason=NO_STATUS)
    latency: dict[str, Percentiles] = field(default_factory=dict)  # status -> response time
    ttft: dict[str, Percentiles] = field(default_factory=dict)  # status -> TTFT (streams)
    by_kind: dict[str, dict[str, Any]] = field(default_factory=dict)


def cache_classes(cache: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(is a hit, is a miss) per row of the categorical X-Cache-Status column."""
    names = [str(c).upper() for c in cache.cat.categories]
    codes = cache.cat.codes.to_numpy()
    hit = np.array(["HIT" in n for n in names] + [False], dtype=bool)
    miss = np.array(["MISS" in n and "HIT" not in n for n in names] + [False], dtype=bool)
    return hit[codes], miss[codes]  # code -1 (missing) indexes the trailing False


def _split(t: Tally, prefix: str) -> dict[str, Percentiles]:
    return {status: t.percentiles_ms(f"{prefix}{status}", SPLIT_QUANTILES) for status in STATUSES}


def _ratio(hits: int, misses: int) -> float | None:
    return 100.0 * hits / (hits + misses) if hits + misses else None


def tally_cache(
    samples: pd.DataFrame, window: Window | None, ttft_us: np.ndarray | None, t: Tally
) -> None:
    """Add one block (``ttft_us`` NaN where no token) to what ``cache_from`` reads."""
    if window is None or not len(samples):
        return
    intended = samples["intended_us"].to_numpy()
    inside = window.holds(intended)
    hit, miss = cache_classes(samples["cache"])
    hit, miss = hit & inside, miss & inside
    if not (hit | miss).any():
        return
    t.add("cache:HIT", int(hit.sum()))
    t.add("cache:MISS", int(miss.sum()))
    response = samples["response_us"].to_numpy().astype(np.float64)
    masks = {"HIT": hit, "MISS": miss}
    if ttft_us is not None:
        for status, mask in masks.items():
            chosen = ttft_us[mask]
            t.values(f"cache_ttft:{status}", chosen[~np.isnan(chosen)])
    kinds = samples["kind"].astype(str).to_numpy()
    for kind in sorted(set(kinds[hit | miss])):
        of_kind = kinds == kind
        for status, mask in masks.items():
            t.add(f"cache_kind:{kind}:{status}", int((mask & of_kind).sum()))
            t.values(f"cache_kind:{kind}:{status}", response[mask & of_kind])
        t.category("cache_kind", {kind: 1})
    for status, mask in masks.items():
        t.values(f"cache_latency:{status}", response[mask])


def measure_cache(
    samples: pd.DataFrame, window: Window | None, ttft_us: np.ndarray | None = None
) -> CacheEffect:
    """Cache figures of the requests intended in ``window``; ``ttft_us`` NaN where no token."""
    t = Tally()
    tally_cache(samples, window, ttft_us, t)
    return cache_from(t)


def cache_from(t: Tally) -> CacheEffect:
    """The cache figures of the blocks added to ``t`` by ``tally_cache``."""
    hits, misses = t.counts["cache:HIT"], t.counts["cache:MISS"]
    if not hits + misses:
        return CacheEffect()
    ttft = {}
    if any(t.histogram(f"cache_ttft:{status}").count for status in STATUSES):
        ttft = _split(t, "cache_ttft:")
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted(t.categories.get("cache_kind", {})):
        split = _split(t, f"cache_kind:{kind}:")
        kind_hits, kind_misses = (
            t.counts[f"cache_kind:{kind}:HIT"],
            t.counts[f"cache_kind:{kind}:MISS"],
        )
        by_kind[kind or "(none)"] = {
            "hits": kind_hits,
            "misses": kind_misses,
            "hit_percent": _ratio(kind_hits, kind_misses),
            **{
                f"{status.lower()}_{q}_ms": split[status].get(q)
                for status in STATUSES
                for q in SPLIT_QUANTILES
            },
        }
    source = f"client X-Cache-Status, {hits + misses:,} HIT or MISS responses in steady window"
    return CacheEffect(
        hits=hits,
        misses=misses,
        hit_percent=Measured(100.0 * hits / (hits + misses), source),
        latency=_split(t, "cache_latency:"),
        ttft=ttft,
        by_kind=by_kind,
    )


def cache_summary(cache: CacheEffect) -> dict[str, Any]:
    """The ``measurements.cache_effect`` object of summary.json (ms)."""
    by_status = {}
    for status in STATUSES:
        latency = cache.latency.get(status, Percentiles())
        entry: dict[str, Any] = {
            "requests": latency.count,
            "latency_ms": {q: latency.get(q) for q in SPLIT_QUANTILES},
        }
        if status in cache.ttft:
            entry["ttft_ms"] = {q: cache.ttft[status].get(q) for q in SPLIT_QUANTILES}
        by_status[status] = entry
    return {
        "hits": cache.hits,
        "misses": cache.misses,
        "hit_percent": cache.hit_percent.value,
        "by_status": by_status,
        "by_kind": cache.by_kind,
        "missing": cache.hit_percent.reason,
    }


__all__ = [
    "NO_STATUS",
    "SPLIT_QUANTILES",
    "CacheEffect",
    "cache_classes",
    "cache_from",
    "cache_summary",
    "measure_cache",
    "tally_cache",
]
