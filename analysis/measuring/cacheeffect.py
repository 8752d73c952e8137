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

from analysis.measuring.client import Measured, Percentiles, Window, percentiles_ms

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


def _split(values_us: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, Percentiles]:
    out = {}
    for status, mask in masks.items():
        chosen = values_us[mask]
        out[status] = percentiles_ms(np.sort(chosen[~np.isnan(chosen)]), SPLIT_QUANTILES)
    return out


def _ratio(hits: int, misses: int) -> float | None:
    return 100.0 * hits / (hits + misses) if hits + misses else None


def measure_cache(
    samples: pd.DataFrame, window: Window | None, ttft_us: np.ndarray | None = None
) -> CacheEffect:
    """Cache figures of the requests intended in ``window``; ``ttft_us`` NaN where no token."""
    if window is None or not len(samples):
        return CacheEffect()
    intended = samples["intended_us"].to_numpy()
    inside = (intended >= window.start_us) & (intended < window.end_us)
    hit, miss = cache_classes(samples["cache"])
    hit, miss = hit & inside, miss & inside
    hits, misses = int(hit.sum()), int(miss.sum())
    if not hits + misses:
        return CacheEffect()
    response = samples["response_us"].to_numpy().astype(np.float64)
    masks = {"HIT": hit, "MISS": miss}
    ttft = {}
    if ttft_us is not None and not np.isnan(ttft_us[hit | miss]).all():
        ttft = _split(ttft_us, masks)
    kinds = samples["kind"].astype(str).to_numpy()
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted(set(kinds[hit | miss])):
        of_kind = kinds == kind
        split = _split(response, {"HIT": hit & of_kind, "MISS": miss & of_kind})
        kind_hits, kind_misses = int((hit & of_kind).sum()), int((miss & of_kind).sum())
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
        latency=_split(response, masks),
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
    "cache_summary",
    "measure_cache",
]
