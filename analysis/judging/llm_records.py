"""Result records of LLM serving: streaming, token usage, goodput, proxy, cache, sessions, replay.

Parts of ``analysis.judging.result.RunResult``; see there how they are read and written.
"""

from __future__ import annotations

from pydantic import Field

from analysis.judging.record import Num, Percentiles, Record


class TokenRates(Record):
    """Tokens/s per stream: its slow tail is at the low percentiles."""

    p50: Num = None
    p10: Num = None
    p5: Num = None
    p1: Num = None
    min: Num = None


class Goodput(Record):
    """Requests that succeeded and met every per-request threshold."""

    requests: Num = None
    good: Num = None
    percent: Num = None
    rate_rps: Num = None
    thresholds_ms: dict[str, int | float] = Field(default_factory=dict)
    thresholds_source: str | None = None
    missed: dict[str, int] = Field(default_factory=dict)
    missing: str = ""


class Streaming(Record):
    """TTFT, inter-token latency, tokens/s and completion of streamed requests."""

    requests: Num = None
    completed: Num = None
    completion_percent: Num = None
    tokens: Num = None
    ttft_requests: Num = None
    ttft_ms: Percentiles = Field(default_factory=Percentiles)
    ttft_from_send_ms: Percentiles = Field(default_factory=Percentiles)
    itl_gap_ms: Percentiles = Field(default_factory=Percentiles)  # every chunk gap a sample
    itl_gaps: Num = None
    tpot_ms: Percentiles = Field(default_factory=Percentiles)
    tpot_requests: Num = None
    itl_ms: Percentiles = Field(default_factory=Percentiles)  # older name of tpot_ms
    itl_requests: Num = None
    e2e_ms: Percentiles = Field(default_factory=Percentiles)
    e2e_requests: Num = None
    rate_requests: Num = None
    tokens_per_s: TokenRates = Field(default_factory=TokenRates)
    missing: str = ""

    def tpot(self) -> tuple[Percentiles, Num]:
        """TPOT percentiles and requests; a summary written before the name has them as itl."""
        if "tpot_ms" in self.model_fields_set:
            return self.tpot_ms, self.tpot_requests
        return self.itl_ms, self.itl_requests


class Usage(Record):
    """Token usage the server reported (analysis/measuring/usage.py); absent in older runs."""

    requests: Num = None
    reported: Num = None
    missing_percent: Num = None
    prompt_tokens: Num = None
    completion_tokens: Num = None
    cached_tokens: Num = None
    cached_percent: Num = None
    output_tokens_per_s: Num = None
    decode_tokens_per_s: Num = None
    decode_streams: Num = None
    streams_compared: Num = None
    streams_disagreeing: Num = None
    disagreeing_percent: Num = None
    stream_usage_tokens: Num = None
    stream_chunks: Num = None
    missing: str = ""


class Proxy(Record):
    """Times the target reported (overhead, upstream) and what neither explains."""

    requests: Num = None
    overhead_ms: Percentiles = Field(default_factory=Percentiles)
    upstream_ms: Percentiles = Field(default_factory=Percentiles)
    upstream_requests: Num = None
    unexplained_ms: Percentiles = Field(default_factory=Percentiles)
    unexplained_requests: Num = None
    missing: str = ""


class CacheStatusFigures(Record):
    """Latency (and TTFT, for streamed runs) of the responses with one X-Cache-Status."""

    requests: Num = None
    latency_ms: Percentiles = Field(default_factory=Percentiles)
    ttft_ms: Percentiles = Field(default_factory=Percentiles)


class CacheKind(Record):
    """Hits, misses and their latency split for one request kind."""

    hits: Num = None
    misses: Num = None
    hit_percent: Num = None
    hit_p50_ms: Num = None
    hit_p95_ms: Num = None
    hit_p99_ms: Num = None
    miss_p50_ms: Num = None
    miss_p95_ms: Num = None
    miss_p99_ms: Num = None


class CacheEffect(Record):
    """Hit ratio and the latency of hits against misses."""

    hits: Num = None
    misses: Num = None
    hit_percent: Num = None
    by_status: dict[str, CacheStatusFigures] = Field(default_factory=dict)
    by_kind: dict[str, CacheKind] = Field(default_factory=dict)
    missing: str = ""


class SessionTurn(Record):
    """One turn index (or "first" / "later") of multi-turn sessions, in the judged window."""

    turn: str = ""
    requests: Num = None
    errors: Num = None
    latency_ms: Percentiles = Field(default_factory=Percentiles)
    ttft_ms: Percentiles = Field(default_factory=Percentiles)
    request_bytes_p50: Num = None
    request_bytes_max: Num = None
    hits: Num = None
    misses: Num = None
    hit_percent: Num = None


class Sessions(Record):
    """Multi-turn sessions: outcomes over the run, figures by turn (``measuring.sessions``)."""

    started: Num = None
    completed: Num = None
    failed: Num = None
    cut: Num = None  # stopped between turns by the end of the run
    completed_percent: Num = None
    first_turn: SessionTurn = Field(default_factory=SessionTurn)
    later_turns: SessionTurn = Field(default_factory=SessionTurn)
    by_turn: list[SessionTurn] = Field(default_factory=list)
    missing: str = ""


class ReplaySkipped(Record):
    """Rows of a trace file not sent, by reason."""

    outside_window: Num = None
    invalid: Num = None  # a zero input or output length
    not_sent: Num = None  # due, never sent by the generator
    unaccounted: Num = None  # neither sent nor counted: an interrupted run


class Replay(Record):
    """Replay fidelity of a trace run: send lag against the trace's time, rows skipped and why."""

    file: str = ""
    format: str = ""
    speedup: Num = None
    passes: Num = None
    rows_in_file: Num = None
    rows_scheduled: Num = None
    rows_sent: Num = None
    rows_skipped: ReplaySkipped = Field(default_factory=ReplaySkipped)
    send_lag_ms: Percentiles = Field(default_factory=Percentiles)
    on_time_percent: Num = None  # rows sent within on_time_ms of their trace time
    on_time_ms: Num = None


__all__ = [
    "CacheEffect",
    "CacheKind",
    "CacheStatusFigures",
    "Goodput",
    "Proxy",
    "Replay",
    "ReplaySkipped",
    "SessionTurn",
    "Sessions",
    "Streaming",
    "TokenRates",
    "Usage",
]
