"""Token usage the server reported: token counts and rates, requests without it, its disagreement.

Over the chat requests (a model was asked for) intended in the judged window that succeeded
(docs/token-metrics.md):

- *reported*: the response carried ``usage.completion_tokens`` (a stream only when asked with
  ``stream_options.include_usage``); the rest are the share without usage;
- totals of ``prompt_tokens``, ``completion_tokens`` and ``cached_tokens`` as reported;
- output tokens/s: the reported completion tokens / the window's length (a throughput);
- decode tokens/s of streams: Σ (tokens − 1) / Σ (last − first content chunk), over completed
  streams that reported 2 or more tokens: the pace of a stream after its first token, weighted
  by each stream's length (the reciprocal of the token-weighted mean TPOT);
- disagreement: completed streams with usage whose ``completion_tokens`` differs from the
  content chunks the client counted, and the two totals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.measuring.client import US_PER_S, Measured, Window, failed_mask
from analysis.measuring.tally import Tally

NO_CHAT = "no chat request succeeded in the steady window"
NO_USAGE = "no response in the steady window reported usage (completion_tokens)"
NO_DECODE = "no completed stream in the steady window reported usage of 2 or more tokens"
_COUNTS = (
    "requests",
    "reported",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cached_reported",
    "streams_compared",
    "streams_disagreeing",
    "stream_usage_tokens",
    "stream_chunks",
    "decode_streams",
    "decode_tokens",
    "decode_us",
)


@dataclass(frozen=True)
class TokenUsage:
    """The usage counts of the judged window (see the module docstring); ``window_s`` its length."""

    requests: int = 0
    reported: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cached_reported: int = 0
    streams_compared: int = 0
    streams_disagreeing: int = 0
    stream_usage_tokens: int = 0
    stream_chunks: int = 0
    decode_streams: int = 0
    decode_tokens: int = 0
    decode_us: int = 0
    window_s: float = math.nan

    def missing_percent(self) -> float:
        return (
            100.0 * (self.requests - self.reported) / self.requests if self.requests else math.nan
        )

    def cached_percent(self) -> float:
        """Cached prompt tokens / reported prompt tokens; NaN when no response said cached."""
        if not self.cached_reported or not self.prompt_tokens:
            return math.nan
        return 100.0 * self.cached_tokens / self.prompt_tokens

    def output_tokens_per_s(self) -> Measured:
        if not self.reported:
            return Measured(math.nan, reason=NO_CHAT if not self.requests else NO_USAGE)
        source = f"server usage, {self.reported:,} chat requests, steady window"
        return Measured(self.completion_tokens / self.window_s, source)

    def decode_tokens_per_s(self) -> Measured:
        if not self.decode_us:
            return Measured(math.nan, reason=NO_DECODE)
        source = f"server usage and client token times, {self.decode_streams:,} streams"
        return Measured(self.decode_tokens * US_PER_S / self.decode_us, source)

    def reason(self) -> str:
        return "" if self.reported else (NO_CHAT if not self.requests else NO_USAGE)


def _column(samples: pd.DataFrame, name: str) -> np.ndarray:
    if name not in samples:  # frames of older runs built in memory
        return np.full(len(samples), -1, dtype=np.int64)
    return samples[name].to_numpy().astype(np.int64)


def tally_usage(
    samples: pd.DataFrame, window: Window | None, figures: pd.DataFrame, t: Tally
) -> None:
    """Add one block (``figures``: its ``streaming.per_request``) to what ``usage_from`` reads."""
    if window is None or not len(samples):
        return
    intended = samples["intended_us"].to_numpy()
    inside = window.holds(intended)
    chat = inside & (samples["model"].astype(str).to_numpy() != "") & ~failed_mask(samples)
    completion = _column(samples, "completion_tokens")
    prompt = _column(samples, "prompt_tokens")
    cached = _column(samples, "cached_tokens")
    reported = chat & (completion >= 0)
    with_cached = reported & (cached >= 0) & (prompt >= 0)
    stream = reported & figures["completed"].to_numpy()
    chunks = samples["tokens"].to_numpy().astype(np.int64)
    first = samples["first_token_us"].to_numpy()
    span = samples["last_token_us"].to_numpy() - first
    decode = stream & (completion >= 2) & (first >= 0) & (span >= 0)
    counts = {
        "requests": chat.sum(),
        "reported": reported.sum(),
        "prompt_tokens": prompt[reported & (prompt >= 0)].sum(),
        "completion_tokens": completion[reported].sum(),
        "cached_tokens": cached[with_cached].sum(),
        "cached_reported": with_cached.sum(),
        "streams_compared": stream.sum(),
        "streams_disagreeing": (stream & (completion != chunks)).sum(),
        "stream_usage_tokens": completion[stream].sum(),
        "stream_chunks": chunks[stream].sum(),
        "decode_streams": decode.sum(),
        "decode_tokens": (completion[decode] - 1).sum(),
        "decode_us": span[decode].sum(),
    }
    for name, n in counts.items():
        t.add(f"usage:{name}", int(n))


def usage_from(t: Tally, window: Window | None) -> TokenUsage:
    """The usage figures of the blocks added to ``t`` by ``tally_usage``."""
    window_s = window.duration_s if window is not None else math.nan
    return TokenUsage(**{name: t.counts[f"usage:{name}"] for name in _COUNTS}, window_s=window_s)


def usage_summary(usage: TokenUsage) -> dict[str, Any]:
    """The ``measurements.usage`` object of summary.json."""
    compared = usage.streams_compared
    return {
        "requests": usage.requests,
        "reported": usage.reported,
        "missing_percent": usage.missing_percent(),
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens,
        "cached_percent": usage.cached_percent(),
        "output_tokens_per_s": usage.output_tokens_per_s().value,
        "decode_tokens_per_s": usage.decode_tokens_per_s().value,
        "decode_streams": usage.decode_streams,
        "streams_compared": compared,
        "streams_disagreeing": usage.streams_disagreeing,
        "disagreeing_percent": (
            100.0 * usage.streams_disagreeing / compared if compared else math.nan
        ),
        "stream_usage_tokens": usage.stream_usage_tokens,
        "stream_chunks": usage.stream_chunks,
        "missing": usage.reason(),
    }


__all__ = ["TokenUsage", "tally_usage", "usage_from", "usage_summary"]
