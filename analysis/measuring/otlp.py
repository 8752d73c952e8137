"""OTLP export success as telemetry delivered: per signal, from item counts, worst signal deciding.

Success = items delivered to the collector / items the agent produced. The counts are the
metric profile's ``otlp_*_items`` counters over the run window, one value per signal. In order
of truth:

- **agent**: the agent's own SDK counters: produced, delivered and failed (final outcomes, after
  the exporter's retries), dropped (queue full, after shutdown). Success = delivered / (delivered
  + failed + dropped); items produced but not yet resolved at the window's end (queued, or in an
  export still in flight) are shown as pending and left out, not counted as lost.
- **collector**: only the collector's receiver counters. They count attempts: a batch refused
  and then delivered by a retry counts as refused and as accepted. A lost item was refused at
  least once, so success lies in [accepted / (accepted + refused), 100 %]: a bound, not a point
  (and items that never reached the collector are not counted at all).

A signal with nothing counted is left out; the worst signal decides (its lower bound, then its
upper one): overall success lies in [min of the lows, min of the highs].
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.measuring.client import Measured

SIGNALS = ("traces", "metrics", "logs")
ITEM_NAMES = {"traces": "spans", "metrics": "metric points", "logs": "log records"}
# Figure -> the series metric that counts it (analysis/contract/schema.py).
COUNT_METRICS = {
    "produced": "otlp_produced_items",
    "delivered": "otlp_delivered_items",
    "failed": "otlp_failed_items",
    "dropped": "otlp_dropped_items",
    "retried": "otlp_retried_items",
    "accepted": "otlp_accepted_items",
    "refused": "otlp_refused_items",
}
AGENT = "agent SDK counters"
COLLECTOR = "collector receiver counters only"


@dataclass(frozen=True)
class SignalDelivery:
    """One signal's counts (items; a figure is absent when no counter gave it) and its share.

    ``low_percent`` == ``high_percent`` for a point; both NaN when nothing was counted.
    """

    signal: str
    counts: dict[str, float]
    basis: str
    low_percent: float
    high_percent: float
    pending: float = math.nan
    note: str = ""

    @property
    def judged(self) -> bool:
        return not math.isnan(self.low_percent)

    @property
    def exact(self) -> bool:
        return self.judged and self.low_percent == self.high_percent

    def as_dict(self) -> dict[str, Any]:
        """The signal as ``summary.json`` holds it (figures first, then the share and its basis)."""
        figures = {name: self.counts.get(name) for name in COUNT_METRICS}
        return figures | {
            "pending": None if math.isnan(self.pending) else self.pending,
            "percent": self.low_percent if self.exact else None,
            "low_percent": self.low_percent,
            "high_percent": self.high_percent,
            "basis": self.basis,
            "note": self.note,
        }


@dataclass(frozen=True)
class OtlpDelivery:
    """Every signal's delivery, the deciding one, the measurement judged and its upper bound.

    ``measured.value`` is the lower bound (the point when ``high_percent`` equals it).
    """

    signals: tuple[SignalDelivery, ...]
    deciding: str
    measured: Measured
    high_percent: float
    counters: dict[str, str] = field(default_factory=dict)

    @property
    def bounded(self) -> bool:
        return self.measured.ok and self.high_percent != self.measured.value

    def as_dict(self) -> dict[str, Any]:
        """``measurements.server.otlp`` of ``summary.json``."""
        return {
            "deciding_signal": self.deciding or None,
            "low_percent": self.measured.value,
            "high_percent": self.high_percent,
            "signals": {s.signal: s.as_dict() for s in self.signals},
            "counters": dict(self.counters),
        }


def has_counts(series: pd.DataFrame, queries: tuple[dict[str, Any], ...]) -> bool:
    """Whether the run collected (or tried to collect) any OTLP item counts."""
    names = set(COUNT_METRICS.values())
    asked = any(q.get("metric") in names for q in queries)
    return asked or bool(series["metric"].isin(names).any())


def _signal_of(labels: Any) -> str:
    try:
        parsed = json.loads(str(labels))
    except ValueError:
        return ""
    return str(parsed.get("signal", "")) if isinstance(parsed, dict) else ""


def read_counts(series: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Signal -> figure -> items: the last value of each count metric's series, Prometheus only.

    A count is one value over the whole window (a counter query), so its last point is it.
    """
    out: dict[str, dict[str, float]] = {}
    for figure, metric in COUNT_METRICS.items():
        rows = series[
            (series["metric"] == metric)
            & (series["source"] == "prometheus")
            & series["value"].notna()
        ]
        for labels, group in rows.sort_values("timestamp_s").groupby("labels", sort=False):
            signal = _signal_of(labels)
            if signal:
                value = max(float(group["value"].iloc[-1]), 0.0)  # a reset would read negative
                counted = out.setdefault(signal, {})
                counted[figure] = counted.get(figure, 0.0) + value
    return out


def _count(value: float) -> str:
    return f"{value:,.0f}"


def signal_delivery(signal: str, counts: dict[str, float]) -> SignalDelivery:
    """One signal's share of items delivered, from the most trusted counts it has."""
    items = ITEM_NAMES.get(signal, "items")
    nan = math.nan
    if "produced" in counts:
        produced = counts["produced"]
        delivered = counts.get("delivered", 0.0)
        lost = counts.get("failed", 0.0) + counts.get("dropped", 0.0)
        resolved = delivered + lost
        pending = max(produced - resolved, 0.0)
        if produced <= 0 and resolved <= 0:
            return SignalDelivery(signal, counts, AGENT, nan, nan, 0.0, f"no {items} produced")
        if resolved <= 0:
            note = f"{_count(produced)} {items} produced, none delivered or lost yet (all pending)"
            return SignalDelivery(signal, counts, AGENT, nan, nan, pending, note)
        percent = 100.0 * delivered / resolved
        note = (
            f"{_count(delivered)} of {_count(resolved)} {items} delivered "
            f"({_count(counts.get('failed', 0.0))} failed after retries, "
            f"{_count(counts.get('dropped', 0.0))} dropped"
            + (f"; {_count(pending)} still pending, left out" if pending else "")
            + ")"
        )
        return SignalDelivery(signal, counts, AGENT, percent, percent, pending, note)
    accepted, refused = counts.get("accepted", 0.0), counts.get("refused", 0.0)
    if accepted + refused <= 0:
        return SignalDelivery(signal, counts, COLLECTOR, nan, nan, note=f"no {items} counted")
    low = 100.0 * accepted / (accepted + refused)
    if refused:
        note = (
            f"{_count(accepted)} {items} accepted, {_count(refused)} refused in attempts: "
            "a refused attempt may have been delivered by a retry, so at least "
            f"{low:.2f} % and at most 100 % delivered"
        )
    else:
        note = f"{_count(accepted)} {items} accepted, none refused"
    return SignalDelivery(signal, counts, COLLECTOR, low, 100.0, note=note)


def _order(signal: str) -> int:
    return SIGNALS.index(signal) if signal in SIGNALS else len(SIGNALS)


def delivery(
    counts: dict[str, dict[str, float]], counters: dict[str, str] | None = None
) -> OtlpDelivery:
    """Every signal's delivery and the verdict's measurement: the worst signal decides."""
    signals = tuple(
        signal_delivery(signal, counts[signal]) for signal in sorted(counts, key=_order)
    )
    judged = [s for s in signals if s.judged]
    counters = dict(counters or {})
    if not judged:
        reasons = "; ".join(f"{s.signal}: {s.note}" for s in signals if s.note)
        reason = "no OTLP items were counted in the run window" + (
            f" ({reasons})" if reasons else ""
        )
        return OtlpDelivery(signals, "", Measured(math.nan, AGENT, reason), math.nan, counters)
    worst = min(judged, key=lambda s: (s.low_percent, s.high_percent))
    high = min(s.high_percent for s in judged)
    others = [s.signal for s in judged if s is not worst]
    how = (
        "delivered / (delivered + failed + dropped)"
        if worst.basis == AGENT
        else "a bound: at least accepted / (accepted + refused attempts)"
    )
    source = (
        f"{worst.signal} decided (worst of {', '.join([worst.signal, *others])}): {worst.note}; "
        f"{worst.basis} over the run window, {how}"
    )
    return OtlpDelivery(signals, worst.signal, Measured(worst.low_percent, source), high, counters)


def measure_otlp(series: pd.DataFrame, queries: tuple[dict[str, Any], ...]) -> OtlpDelivery:
    """OTLP delivery from the run's count series; ``counters`` names the query behind each."""
    counters = {
        figure: str(q.get("query") or "")
        for figure, metric in COUNT_METRICS.items()
        for q in queries
        if q.get("metric") == metric and q.get("source", "prometheus") == "prometheus"
    }
    return delivery(read_counts(series), counters)


__all__ = [
    "AGENT",
    "COLLECTOR",
    "COUNT_METRICS",
    "SIGNALS",
    "OtlpDelivery",
    "SignalDelivery",
    "delivery",
    "has_counts",
    "measure_otlp",
    "read_counts",
    "signal_delivery",
]
