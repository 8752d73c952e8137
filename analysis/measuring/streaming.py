"""Streamed responses: time to first token, inter-token latency, TPOT, E2E, tokens/s, completion.

A request is *streamed* when its kind streams in the scenario (``chat.stream: true``), or when
its response carried a token or ended as "stream incomplete" (so an external scenario's streams
count too). A content chunk is an event with non-empty content, timed when its bytes arrived; a
request's *tokens* are the server's ``usage.completion_tokens`` when it reported them, else its
counted content chunks. Per request, in microseconds (docs/token-metrics.md):

- TTFT ``first_token_us − intended_us`` (from the intended send: coordinated omission
  corrected, as response time) and ``first_token_us − sent_us`` (from the actual send);
- ITL (``itl_gap``): each gap between two consecutive content chunks is one sample: a stream of
  k chunks gives k − 1 gaps, whatever number of tokens each chunk carries;
- TPOT ``(last_token_us − first_token_us) / (tokens − 1)``, for tokens >= 2 (a chunk carrying
  several tokens counts them all at its instant); the old name ``itl`` means this;
- E2E ``done_us − intended_us`` of a completed stream;
- tokens per second ``tokens / (done_us − sent_us)``, for completed streams with a token;
- completed: no error (the generator records "stream incomplete" for a stream without [DONE]).

Percentiles are exact nearest-rank over the requests intended in the judged window; ITL's over
every gap of those requests (not over per-request means).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.measuring.client import (
    US_PER_S,
    Measured,
    Percentiles,
    Window,
    failed_mask,
    nearest_rank_index,
)
from analysis.measuring.tally import Histogram, Tally

INCOMPLETE_ERROR = "stream incomplete"
# Tokens per second is better high: its slow tail is at the low percentiles.
RATE_QUANTILES: dict[str, Fraction] = {
    "p50": Fraction(1, 2),
    "p10": Fraction(1, 10),
    "p5": Fraction(1, 20),
    "p1": Fraction(1, 100),
    "min": Fraction(0),
}
KIND_QUANTILES = ("p50", "p95", "p99")
_NEEDS = {  # which streamed requests each family is measured on
    "ttft": "received a token",
    "ttft_sent": "received a token",
    "tpot": "had 2 or more tokens",
    "itl_gap": "received 2 or more content chunks",
    "e2e": "completed",
    "tokens_per_s": "completed with a token",
}
ALIASES = {"itl": "tpot"}  # names older scenarios and summaries use -> the figure they meant
GAPS_COLUMN = "chunk_gaps_us"
NO_STREAMS = (
    "no streamed requests in the steady window (no request kind has chat.stream: true and no "
    "response carried a token)"
)


@dataclass(frozen=True)
class StreamMeasurements:
    """Streaming figures of the judged window; ``reason`` says why there are none."""

    streamed: int = 0
    completed: int = 0
    tokens: int = 0
    completion: Measured = Measured(math.nan, reason=NO_STREAMS)
    ttft: Percentiles = field(default_factory=Percentiles)
    ttft_sent: Percentiles = field(default_factory=Percentiles)
    tpot: Percentiles = field(default_factory=Percentiles)
    itl_gap: Percentiles = field(default_factory=Percentiles)  # count: gaps, not requests
    e2e: Percentiles = field(default_factory=Percentiles)
    tokens_per_s: dict[str, float] = field(default_factory=dict)
    tokens_per_s_count: int = 0
    by_kind: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str = NO_STREAMS

    def measured(self, name: str) -> Measured:
        """One figure as judged: ``ttft_p95``, ``itl_gap_p99``, ``tpot_p95``, ``itl_p99`` (TPOT)."""
        family, _, quantile = name.rpartition("_")
        family = ALIASES.get(family, family)
        series = {
            "ttft": self.ttft,
            "ttft_sent": self.ttft_sent,
            "tpot": self.tpot,
            "itl_gap": self.itl_gap,
            "e2e": self.e2e,
        }.get(family)
        if series is not None:
            value, count = series.get(quantile), series.count
        else:
            family = "tokens_per_s"
            value, count = self.tokens_per_s.get(quantile, math.nan), self.tokens_per_s_count
        population = f"{count:,} streamed requests that {_NEEDS[family]}"
        if family == "itl_gap":
            population = f"{count:,} gaps between content chunks of streamed requests"
        source = f"client samples, {population}, steady window"
        return Measured(value, source if count else "", "" if count else self._missing(family))

    def _missing(self, family: str) -> str:
        if not self.streamed:
            return self.reason
        return (
            f"none of the {self.streamed:,} streamed requests in the steady window {_NEEDS[family]}"
        )


def stream_kinds(scenario: dict[str, Any]) -> frozenset[str]:
    """Request kinds whose ``chat.stream`` is true in a scenario read from YAML."""
    kinds = set()
    for request in scenario.get("requests") or []:
        chat = request.get("chat") if isinstance(request, dict) else None
        if isinstance(chat, dict) and chat.get("stream") is True:
            kinds.add(str(request.get("kind")))
    return frozenset(kinds)


def streamed_mask(samples: pd.DataFrame, kinds: frozenset[str] = frozenset()) -> np.ndarray:
    """True for a streamed request: a streaming kind, a token received, or an incomplete stream."""
    mask = samples["first_token_us"].to_numpy() >= 0
    mask |= samples["error"].isin([INCOMPLETE_ERROR]).to_numpy()
    if kinds:
        mask |= samples["kind"].isin(sorted(kinds)).to_numpy()
    return np.asarray(mask)


def request_tokens(samples: pd.DataFrame) -> np.ndarray:
    """Each request's tokens: the server's ``completion_tokens`` where reported, else chunks."""
    chunks = samples["tokens"].to_numpy().astype(np.int64)
    if "completion_tokens" not in samples:
        return chunks
    usage = samples["completion_tokens"].to_numpy().astype(np.int64)
    return np.where(usage >= 0, usage, chunks)


def chunk_gaps_us(samples: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Every chunk gap (µs) of the requests where ``rows`` is true, as one int64 array."""
    if GAPS_COLUMN not in samples or not rows.any():
        return np.empty(0, dtype=np.int64)
    column = samples[GAPS_COLUMN]
    lists = pa.array(column.array if isinstance(column.dtype, pd.ArrowDtype) else column.tolist())
    kept = lists.filter(pa.array(rows))
    return np.asarray(kept.flatten().to_numpy(zero_copy_only=False), dtype=np.int64)


def per_request(samples: pd.DataFrame, streamed: np.ndarray) -> pd.DataFrame:
    """Per-request stream figures (µs, tokens/s), NaN where they do not apply; same index."""
    first = samples["first_token_us"].to_numpy()
    last = samples["last_token_us"].to_numpy()
    tokens = request_tokens(samples)
    sent = samples["sent_us"].to_numpy()
    intended = samples["intended_us"].to_numpy()
    done = samples["done_us"].to_numpy()
    has_token = streamed & (first >= 0)
    multi = has_token & (tokens >= 2) & (last >= first)
    completed = streamed & ~failed_mask(samples)
    service_s = (done - sent) / US_PER_S
    rated = completed & (tokens >= 1) & (service_s > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = np.where(multi, (last - first) / np.maximum(tokens - 1, 1), math.nan)
        rate = np.where(rated, tokens / np.where(rated, service_s, 1.0), math.nan)
    return pd.DataFrame(
        {
            "streamed": streamed,
            "completed": completed,
            "ttft_us": np.where(has_token, first - intended, math.nan),
            "ttft_sent_us": np.where(has_token, first - sent, math.nan),
            "tpot_us": tpot,
            "e2e_us": np.where(completed, done - intended, math.nan),
            "tokens_per_s": rate,
        },
        index=samples.index,
    )


def _numbers(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]


def rate_percentiles(sorted_rates: np.ndarray) -> dict[str, float]:
    """Nearest-rank low percentiles (p50 down to min) of ascending tokens/s values."""
    n = len(sorted_rates)
    if n == 0:
        return {name: math.nan for name in RATE_QUANTILES}
    return {
        name: float(sorted_rates[int(nearest_rank_index(n, q))])
        for name, q in RATE_QUANTILES.items()
    }


def _rates(histogram: Histogram) -> dict[str, float]:
    return histogram.quantiles(tuple(RATE_QUANTILES), table=RATE_QUANTILES)


def tally_streaming(
    samples: pd.DataFrame, window: Window | None, figures: pd.DataFrame, t: Tally
) -> None:
    """Add one block (``figures``: its ``per_request``) to what ``streaming_from`` reads."""
    if window is None or not len(samples):
        return
    intended = samples["intended_us"].to_numpy()
    inside = window.holds(intended)
    figures = figures[inside]
    streamed = figures["streamed"].to_numpy()
    if not streamed.any():
        return
    t.add("streamed", int(streamed.sum()))
    t.add("completed", int(figures["completed"].to_numpy().sum()))
    t.add("tokens", int(samples["tokens"].to_numpy()[inside][streamed].sum()))
    for name in ("ttft_us", "ttft_sent_us", "tpot_us", "e2e_us", "tokens_per_s"):
        t.values(f"stream:{name}", _numbers(figures[name].to_numpy()))
    rows = np.zeros(len(samples), dtype=bool)
    rows[np.flatnonzero(inside)[streamed]] = True
    t.values("stream:itl_gap_us", chunk_gaps_us(samples, rows))
    kinds = samples["kind"].astype(str).to_numpy()[inside]
    for kind in sorted(set(kinds[streamed])):
        rows = figures[(kinds == kind) & streamed]
        t.category("stream_kind", {kind: len(rows)})
        t.values(f"stream_ttft:{kind}", _numbers(rows["ttft_us"].to_numpy()))
        t.values(f"stream_rate:{kind}", _numbers(rows["tokens_per_s"].to_numpy()))


def _by_kind(t: Tally) -> dict[str, dict[str, Any]]:
    """For each kind with streamed requests: streams, TTFT P50/P95/P99 and tokens/s P50."""
    out: dict[str, dict[str, Any]] = {}
    for kind, streams in sorted(t.categories.get("stream_kind", {}).items()):
        ttft = t.percentiles_ms(f"stream_ttft:{kind}", KIND_QUANTILES)
        out[kind or "(none)"] = {
            "streamed": streams,
            **{f"ttft_{k}_ms": v for k, v in ttft.values_ms.items()},
            "tokens_per_s_p50": _rates(t.histogram(f"stream_rate:{kind}"))["p50"],
        }
    return out


def measure_streaming(
    samples: pd.DataFrame, window: Window | None, kinds: frozenset[str] = frozenset()
) -> StreamMeasurements:
    """Streaming figures of the requests intended in ``window``."""
    t = Tally()
    if len(samples):
        tally_streaming(samples, window, per_request(samples, streamed_mask(samples, kinds)), t)
    return streaming_from(t)


def streaming_from(t: Tally) -> StreamMeasurements:
    """The streaming figures of the blocks added to ``t`` by ``tally_streaming``."""
    streams = t.counts["streamed"]
    if not streams:
        return StreamMeasurements()
    completed = t.counts["completed"]
    rates = t.histogram("stream:tokens_per_s")
    source = f"client samples, {streams:,} streamed requests in steady window"
    return StreamMeasurements(
        streamed=streams,
        completed=completed,
        tokens=t.counts["tokens"],
        completion=Measured(100.0 * completed / streams, source),
        ttft=t.percentiles_ms("stream:ttft_us"),
        ttft_sent=t.percentiles_ms("stream:ttft_sent_us"),
        tpot=t.percentiles_ms("stream:tpot_us"),
        itl_gap=t.percentiles_ms("stream:itl_gap_us"),
        e2e=t.percentiles_ms("stream:e2e_us"),
        tokens_per_s=_rates(rates),
        tokens_per_s_count=rates.count,
        by_kind=_by_kind(t),
        reason="",
    )


def stream_summary(streaming: StreamMeasurements) -> dict[str, Any]:
    """The ``measurements.streaming`` object of summary.json (times in ms)."""
    return {
        "requests": streaming.streamed,
        "completed": streaming.completed,
        "completion_percent": streaming.completion.value,
        "tokens": streaming.tokens,
        "ttft_requests": streaming.ttft.count,
        "ttft_ms": streaming.ttft.as_dict(),
        "ttft_from_send_ms": streaming.ttft_sent.as_dict(),
        "itl_gap_ms": streaming.itl_gap.as_dict(),
        "itl_gaps": streaming.itl_gap.count,
        "tpot_ms": streaming.tpot.as_dict(),
        "tpot_requests": streaming.tpot.count,
        "itl_ms": streaming.tpot.as_dict(),  # the old name of TPOT, kept for older readers
        "itl_requests": streaming.tpot.count,
        "e2e_ms": streaming.e2e.as_dict(),
        "e2e_requests": streaming.e2e.count,
        "rate_requests": streaming.tokens_per_s_count,
        "tokens_per_s": {k: streaming.tokens_per_s.get(k, math.nan) for k in RATE_QUANTILES},
        "missing": streaming.reason,
    }


__all__ = [
    "ALIASES",
    "GAPS_COLUMN",
    "INCOMPLETE_ERROR",
    "RATE_QUANTILES",
    "StreamMeasurements",
    "chunk_gaps_us",
    "measure_streaming",
    "per_request",
    "rate_percentiles",
    "request_tokens",
    "stream_kinds",
    "stream_summary",
    "streaming_from",
    "tally_streaming",
    "streamed_mask",
]
