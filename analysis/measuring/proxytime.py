"""Proxy overhead as the target reports it, and the client-side time it leaves unexplained.

The target reports per request its upstream (provider) time and its own overhead in response
headers (``upstream_us`` / ``overhead_us``, -1 when absent). Unexplained time is the client's
time less both: network, HTTP parsing and queueing before the target's clock starts. The
client's time is the service time (from the actual send) of a plain response, and the time to
the response head of a streamed one (its token pacing comes after the head and is in neither).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.measuring.client import Measured, Percentiles, Window, failed_mask
from analysis.measuring.tally import Tally

PROXY_QUANTILES = ("p50", "p95", "p99", "max")
NOT_REPORTED = (
    "the target reported no proxy overhead (no X-Edge-Overhead-Ms header, or the scenario's "
    "target.timing_headers names none)"
)


@dataclass(frozen=True)
class ProxyTime:
    """Percentiles (ms) of reported overhead and upstream time, and of the unexplained rest."""

    overhead: Percentiles = field(default_factory=Percentiles)
    upstream: Percentiles = field(default_factory=Percentiles)
    unexplained: Percentiles = field(default_factory=Percentiles)
    reason: str = NOT_REPORTED

    def overhead_p95(self) -> Measured:
        count = self.overhead.count
        source = f"target-reported overhead of {count:,} requests in steady window"
        return Measured(self.overhead.get("p95"), source if count else "", self.reason)


def tally_proxy_time(
    samples: pd.DataFrame, window: Window | None, streamed: np.ndarray, t: Tally
) -> None:
    """Add one block to what ``proxy_time_from`` reads."""
    if window is None or not len(samples):
        return
    intended = samples["intended_us"].to_numpy()
    inside = window.holds(intended)
    overhead = samples["overhead_us"].to_numpy()
    upstream = samples["upstream_us"].to_numpy()
    has_overhead, has_upstream = inside & (overhead >= 0), inside & (upstream >= 0)
    if not has_overhead.any() and not has_upstream.any():
        return
    ttfb = samples["ttfb_us"].to_numpy()
    client = np.where(
        streamed, ttfb - samples["sent_us"].to_numpy(), samples["service_us"].to_numpy()
    )
    both = has_overhead & has_upstream & ~failed_mask(samples) & (~streamed | (ttfb >= 0))
    t.values("proxy:overhead", overhead[has_overhead])
    t.values("proxy:upstream", upstream[has_upstream])
    t.values("proxy:unexplained", (client - upstream - overhead)[both])


def measure_proxy_time(
    samples: pd.DataFrame, window: Window | None, streamed: np.ndarray
) -> ProxyTime:
    """Percentiles over the requests intended in ``window`` that carry the timing headers."""
    t = Tally()
    tally_proxy_time(samples, window, streamed, t)
    return proxy_time_from(t)


def proxy_time_from(t: Tally) -> ProxyTime:
    """The proxy time of the blocks added to ``t`` by ``tally_proxy_time``."""
    overhead, upstream = t.histogram("proxy:overhead"), t.histogram("proxy:upstream")
    if not overhead.count and not upstream.count:
        return ProxyTime()
    return ProxyTime(
        overhead=overhead.percentiles_ms(PROXY_QUANTILES),
        upstream=upstream.percentiles_ms(PROXY_QUANTILES),
        unexplained=t.percentiles_ms("proxy:unexplained", PROXY_QUANTILES),
        reason="" if overhead.count else NOT_REPORTED,
    )


def proxy_summary(proxy: ProxyTime) -> dict[str, Any]:
    """The ``measurements.proxy`` object of summary.json (ms; counts are requests)."""
    return {
        "requests": proxy.overhead.count,
        "overhead_ms": {k: proxy.overhead.get(k) for k in PROXY_QUANTILES},
        "upstream_ms": {k: proxy.upstream.get(k) for k in PROXY_QUANTILES},
        "upstream_requests": proxy.upstream.count,
        "unexplained_ms": {k: proxy.unexplained.get(k) for k in PROXY_QUANTILES},
        "unexplained_requests": proxy.unexplained.count,
        "missing": proxy.reason,
    }


__all__ = [
    "NOT_REPORTED",
    "PROXY_QUANTILES",
    "ProxyTime",
    "measure_proxy_time",
    "proxy_summary",
    "proxy_time_from",
    "tally_proxy_time",
]
