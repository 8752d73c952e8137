"""Goodput: requests of the judged window that succeeded and met every per-request threshold.

Thresholds (ms) come from the scenario's ``slo:`` section; when it sets none, from the latency
targets: for each of response time, TTFT and ITL the loosest target given (P99, else P95,
else P50) with a ``<``/``<=`` bound or a range's upper end. A request meets a threshold when
its value is at most the threshold:

- ``response_ms``: response time (from the intended send) of a request that is not streamed;
  a stream's full response time includes its token pacing, which ``ttft_ms`` and ``itl_ms``
  judge instead;
- ``ttft_ms``: a streamed request's time to first token from the intended send (a stream
  without a token misses it);
- ``itl_ms``: a streamed request's time per output token, TPOT (streams of 0 or 1 token pass
  it): the per-request figure the name has always meant (docs/token-metrics.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.contract.targets import Target
from analysis.measuring.client import US_PER_MS, Measured, Window, failed_mask
from analysis.measuring.tally import Tally

SLO_FIELDS = ("response_ms", "ttft_ms", "itl_ms")
# The latency targets a threshold defaults to, loosest first.
DEFAULT_FROM: dict[str, tuple[str, ...]] = {
    "response_ms": ("latency_p99_ms", "latency_p95_ms", "latency_p50_ms"),
    "ttft_ms": ("ttft_p99_ms", "ttft_p95_ms", "ttft_p50_ms"),
    "itl_ms": ("itl_p99_ms", "itl_p95_ms", "tpot_p99_ms", "tpot_p95_ms"),
}
NO_THRESHOLDS = (
    "no per-request thresholds: add an slo: section (response_ms, ttft_ms, itl_ms) or a "
    "latency target to the scenario"
)


@dataclass(frozen=True)
class Slo:
    """Per-request thresholds in ms (only those that apply) and where they came from."""

    thresholds_ms: dict[str, float] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class Goodput:
    """Good requests of the judged window; ``missed`` counts by reason (a request may miss
    several thresholds; ``failed`` are requests that did not succeed)."""

    slo: Slo
    requests: int
    good: int
    missed: dict[str, int]
    percent: Measured
    rate_rps: Measured


def _bound(target: Target) -> float | None:
    if target.op in ("<", "<="):
        return target.value
    if target.op == "range":
        return target.high
    return None


def resolve_slo(scenario: dict[str, Any], targets: dict[str, Target]) -> Slo:
    """The thresholds of a scenario read from YAML; ValueError names a bad ``slo`` field."""
    raw = scenario.get("slo") or {}
    if not isinstance(raw, dict):
        raise ValueError(f"slo: expected a mapping of {list(SLO_FIELDS)} to milliseconds")
    unknown = sorted(set(raw) - set(SLO_FIELDS))
    if unknown:
        raise ValueError(f"slo: unknown field(s) {unknown}; known: {list(SLO_FIELDS)}")
    given: dict[str, float] = {}
    for name, value in raw.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"slo.{name}: expected milliseconds > 0, got {value!r}")
        given[name] = float(value)
    if given:
        return Slo(given, "scenario slo")
    defaults: dict[str, float] = {}
    used = []
    for name, metrics in DEFAULT_FROM.items():
        for metric in metrics:
            bound = _bound(targets[metric]) if metric in targets else None
            if bound is not None:
                defaults[name] = bound
                used.append(f"{metric} {targets[metric].text}")
                break
    return Slo(defaults, "latency targets: " + ", ".join(used) if used else "")


def tally_goodput(
    samples: pd.DataFrame, window: Window | None, slo: Slo, stream: pd.DataFrame, t: Tally
) -> None:
    """Add one block (``stream``: its ``streaming.per_request``) to what ``goodput_from`` reads."""
    if window is None or not len(samples):
        return
    t.add("goodput_rows", len(samples))
    intended = samples["intended_us"].to_numpy()
    inside = window.holds(intended)
    t.add("goodput_requests", int(inside.sum()))
    if not slo.thresholds_ms:
        return
    streamed = stream["streamed"].to_numpy()
    misses = {"failed": failed_mask(samples)}
    limits_us = {name: ms * US_PER_MS for name, ms in slo.thresholds_ms.items()}
    if "response_ms" in limits_us:
        misses["response_ms"] = ~streamed & (
            samples["response_us"].to_numpy() > limits_us["response_ms"]
        )
    if "ttft_ms" in limits_us:
        ttft = stream["ttft_us"].to_numpy()
        misses["ttft_ms"] = streamed & ~(ttft <= limits_us["ttft_ms"])  # NaN misses
    if "itl_ms" in limits_us:
        misses["itl_ms"] = streamed & (stream["tpot_us"].to_numpy() > limits_us["itl_ms"])
    bad = np.zeros(len(samples), dtype=bool)
    for name, mask in misses.items():
        t.add(f"goodput_missed:{name}", int((mask & inside).sum()))
        bad |= mask
    t.add("goodput_good", int((inside & ~bad).sum()))


def measure_goodput(
    samples: pd.DataFrame, window: Window | None, slo: Slo, stream: pd.DataFrame
) -> Goodput:
    """Count good requests intended in ``window``; ``stream`` is ``streaming.per_request``."""
    t = Tally()
    tally_goodput(samples, window, slo, stream, t)
    return goodput_from(t, window, slo)


def goodput_from(t: Tally, window: Window | None, slo: Slo) -> Goodput:
    """The goodput of the blocks added to ``t`` by ``tally_goodput``."""
    missed = {"failed": 0, **{name: 0 for name in slo.thresholds_ms}}
    if window is None or not t.counts["goodput_rows"]:
        nan = Measured(math.nan, reason="no request samples in the steady window")
        return Goodput(slo, 0, 0, missed, nan, nan)
    requests = t.counts["goodput_requests"]
    if not requests or not slo.thresholds_ms:
        reason = NO_THRESHOLDS if requests else "no requests in the steady window"
        nan = Measured(math.nan, reason=reason)
        return Goodput(slo, requests, 0, missed, nan, nan)
    missed = {name: t.counts[f"goodput_missed:{name}"] for name in missed}
    good = t.counts["goodput_good"]
    limits = ", ".join(f"{name.removesuffix('_ms')} <= {ms:g} ms" for name, ms in
                       slo.thresholds_ms.items())  # fmt: skip
    source = f"client samples, {requests:,} requests in steady window; good: succeeded, {limits}"
    return Goodput(
        slo,
        requests,
        good,
        missed,
        Measured(100.0 * good / requests, source),
        Measured(good / window.duration_s, source),
    )


def goodput_summary(goodput: Goodput) -> dict[str, Any]:
    """The ``measurements.goodput`` object of summary.json."""
    return {
        "requests": goodput.requests,
        "good": goodput.good,
        "percent": goodput.percent.value,
        "rate_rps": goodput.rate_rps.value,
        "thresholds_ms": dict(goodput.slo.thresholds_ms),
        "thresholds_source": goodput.slo.source,
        "missed": dict(goodput.missed),
        "missing": goodput.percent.reason,
    }


__all__ = [
    "DEFAULT_FROM",
    "SLO_FIELDS",
    "Goodput",
    "Slo",
    "goodput_from",
    "goodput_summary",
    "measure_goodput",
    "resolve_slo",
    "tally_goodput",
]
