"""Report sections for streaming, token usage, goodput, proxy overhead, cache, from summary.json.

Pure view builders: each takes the ``measurements`` of a ``RunResult`` and returns plain strings in
``{"id", "title", "caption", "tables": [{"head", "rows", "note"}]}``, or nothing when the run
has no such data (so the page leaves the section out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from analysis.judging.result import Measurements, Num, Percentiles, TokenRates
from analysis.outputs.formatting import format_count, format_value

_STREAM_HEAD = ["", "requests", "P50", "P90", "P95", "P99", "P99.9", "max"]


def _row(label: str, count: Num, values: Sequence[Num], unit: str) -> list[str]:
    return [label, format_count(count), *(format_value(v, unit) for v in values)]


def _stream_figures(p: Percentiles) -> tuple[Num, ...]:
    return (p.p50, p.p90, p.p95, p.p99, p.p999, p.max)


def _rate_figures(r: TokenRates) -> tuple[Num, ...]:
    return (r.p50, r.p10, r.p5, r.p1, r.min)


def _split(p: Percentiles) -> tuple[Num, ...]:
    return (p.p50, p.p95, p.p99)


def _proxy_figures(p: Percentiles) -> tuple[Num, ...]:
    return (p.p50, p.p95, p.p99, p.max)


def streaming_section(m: Measurements) -> dict[str, Any] | None:
    """TTFT (from intended and actual send), ITL per gap, TPOT, E2E and tokens/s; completion."""
    s = m.streaming
    if not s.requests:
        return None
    tpot, tpot_requests = s.tpot()
    latency = [
        _row("TTFT from intended send", s.ttft_requests, _stream_figures(s.ttft_ms), "ms"),
        _row("TTFT from actual send", s.ttft_requests, _stream_figures(s.ttft_from_send_ms),
             "ms"),
        *([_row("ITL (each chunk gap)", s.itl_gaps, _stream_figures(s.itl_gap_ms), "ms")]
          if s.itl_gaps is not None else []),
        _row("TPOT (per request)", tpot_requests, _stream_figures(tpot), "ms"),
        *([_row("E2E from intended send", s.e2e_requests, _stream_figures(s.e2e_ms), "ms")]
          if s.e2e_requests is not None else []),
    ]  # fmt: skip
    rates = [_row("tokens/s", s.rate_requests, _rate_figures(s.tokens_per_s), "tokens/s")]
    completion = (
        f"{format_count(s.completed)} of {format_count(s.requests)} streams "
        f"completed with [DONE] ({format_value(s.completion_percent, '%')}); "
        f"{format_count(s.tokens)} tokens received."
    )
    caption = (
        "Streamed requests intended in the steady window (docs/token-metrics.md). TTFT: time to "
        "the first content chunk, from the intended send (corrected for coordinated omission) "
        "and from the actual send; ITL: every gap between two content chunks is one sample (its "
        "count is gaps, not requests); TPOT: (last − first chunk) / (tokens − 1) per request "
        "with 2 or more tokens, tokens as the server's usage counts them where reported (the "
        "old name itl_* means TPOT); E2E: a completed stream's whole time; tokens/s: tokens / "
        "service time per completed stream, its slow tail at the low percentiles. " + completion
    )
    rate_head = ["", "requests", "P50", "P10", "P5", "P1", "min"]
    return {
        "id": "streaming",
        "title": "Streaming",
        "caption": caption,
        "tables": [
            {"head": _STREAM_HEAD, "rows": latency, "note": ""},
            {"head": rate_head, "rows": rates, "note": ""},
        ],
    }


def usage_section(m: Measurements) -> dict[str, Any] | None:
    """Token counts the server reported, the rates from them, and how they agree with chunks."""
    u = m.usage
    if not u.requests:
        return None
    rows = [
        ["chat requests (succeeded)", format_count(u.requests)],
        ["without usage", f"{format_count((u.requests or 0) - (u.reported or 0))} "
                          f"({format_value(u.missing_percent, '%')})"],
        ["prompt tokens", format_count(u.prompt_tokens)],
        ["cached prompt tokens", f"{format_count(u.cached_tokens)} "
                                 f"({format_value(u.cached_percent, '%')})"],
        ["completion tokens", format_count(u.completion_tokens)],
        ["output tokens/s (completion tokens / window)",
         format_value(u.output_tokens_per_s, "tokens/s")],
        ["stream pace after the first token (decode)",
         f"{format_value(u.decode_tokens_per_s, 'tokens/s')} over "
         f"{format_count(u.decode_streams)} streams"],
        ["streams whose usage ≠ counted chunks",
         f"{format_count(u.streams_disagreeing)} of {format_count(u.streams_compared)} "
         f"({format_value(u.disagreeing_percent, '%')})"],
        ["completion tokens vs chunks (those streams)",
         f"{format_count(u.stream_usage_tokens)} vs {format_count(u.stream_chunks)}"],
    ]  # fmt: skip
    caption = (
        "The server's own token counts (usage) of chat requests intended in the steady window "
        "that succeeded; streams report usage only when asked (stream_options.include_usage). "
        "Decode pace: Σ (tokens − 1) / Σ (last − first content chunk) of completed streams. "
        "A chunk may carry several tokens, so usage and counted chunks can differ. "
        + (u.missing or "")
    )
    return {"id": "token-usage", "title": "Token usage (server-reported)", "caption": caption,
            "tables": [{"head": ["", "value"], "rows": rows, "note": ""}]}  # fmt: skip


def goodput_section(m: Measurements) -> dict[str, Any] | None:
    """Good requests against all, with the thresholds and what the others missed."""
    g = m.goodput
    if g.percent is None:
        return None
    thresholds = ", ".join(
        f"{name.removesuffix('_ms')} ≤ {value:g} ms" for name, value in g.thresholds_ms.items()
    )
    rows = [
        ["thresholds", f"{thresholds} ({g.thresholds_source or '—'})"],
        ["good requests", f"{format_count(g.good)} of {format_count(g.requests)}"],
        ["goodput", format_value(g.percent, "%")],
        ["goodput rate", format_value(g.rate_rps, "req/s")],
        ["throughput (sent)", format_value(m.rate_rps, "req/s")],
    ]
    rows += [
        [f"missed: {'failed' if name == 'failed' else name.removesuffix('_ms')}", format_count(n)]
        for name, n in g.missed.items()
    ]
    caption = (
        "Goodput: requests intended in the steady window that succeeded and met every "
        "per-request threshold (response time for plain requests; TTFT and TPOT, the itl "
        "threshold, for streamed ones). A request may miss several thresholds."
    )
    return {"id": "goodput", "title": "Goodput", "caption": caption,
            "tables": [{"head": ["", "value"], "rows": rows, "note": ""}]}  # fmt: skip


def proxy_section(m: Measurements) -> dict[str, Any] | None:
    """Reported overhead and upstream time, and the client-side time neither explains."""
    p = m.proxy
    if not p.requests and not p.upstream_requests:
        return None
    rows = [
        _row("proxy overhead (reported)", p.requests, _proxy_figures(p.overhead_ms), "ms"),
        _row("upstream time (reported)", p.upstream_requests, _proxy_figures(p.upstream_ms),
             "ms"),
        _row("unexplained (client − both)", p.unexplained_requests,
             _proxy_figures(p.unexplained_ms), "ms"),
    ]  # fmt: skip
    caption = (
        "Times the target reported per request (X-Edge-Overhead-Ms, X-Upstream-Time-Ms), and the "
        "client's time less both: service time of a plain response, time to the response head "
        "of a streamed one; what is left is network, parsing and queueing outside the target's "
        "clock."
    )
    return {"id": "proxy-overhead", "title": "Proxy overhead", "caption": caption,
            "tables": [{"head": ["", "requests", "P50", "P95", "P99", "max"], "rows": rows,
                        "note": ""}]}  # fmt: skip


def cache_section(m: Measurements) -> dict[str, Any] | None:
    """Hit ratio and latency by HIT / MISS, overall and by request kind."""
    c = m.cache_effect
    if not (c.hits or c.misses):
        return None
    by_status = c.by_status
    streams = any(v.provided("ttft_ms") for v in by_status.values())
    head = ["X-Cache-Status", "requests", "P50", "P95", "P99"]
    head += ["TTFT P50", "TTFT P95", "TTFT P99"] if streams else []
    rows = []
    for status, v in by_status.items():
        row = _row(status, v.requests, _split(v.latency_ms), "ms")
        if streams:
            row += [format_value(x, "ms") for x in _split(v.ttft_ms)]
        rows.append(row)
    kind_head = ["kind", "HIT", "MISS", "hit ratio"]
    kind_head += [f"{s} {q}" for s in ("HIT", "MISS") for q in ("P50", "P95", "P99")]
    kind_rows = [
        [kind, format_count(v.hits), format_count(v.misses), format_value(v.hit_percent, "%"),
         *(format_value(x, "ms") for x in (v.hit_p50_ms, v.hit_p95_ms, v.hit_p99_ms,
                                           v.miss_p50_ms, v.miss_p95_ms, v.miss_p99_ms))]
        for kind, v in c.by_kind.items()
    ]  # fmt: skip
    ratio = format_value(c.hit_percent, "%")
    caption = (
        f"Hit ratio {ratio}: HIT / (HIT + MISS) of the X-Cache-Status of responses intended in "
        "the steady window (BYPASS and none are neither). Latency is response time from the "
        "intended send; for streamed requests it includes the token pacing, and the TTFT "
        "columns split their time to first token."
    )
    return {
        "id": "cache-effect",
        "title": "Cache effectiveness",
        "caption": caption,
        "tables": [
            {"head": head, "rows": rows, "note": ""},
            {"head": kind_head, "rows": kind_rows, "note": "by request kind"},
        ],
    }


def llm_sections(m: Measurements) -> list[dict[str, Any]]:
    """The sections this run has data for, in page order."""
    sections = (
        streaming_section(m),
        usage_section(m),
        goodput_section(m),
        proxy_section(m),
        cache_section(m),
    )
    return [s for s in sections if s is not None]


def goodput_row(m: Measurements) -> tuple[str, str] | None:
    """The key-measurements row beside the achieved rate; None without goodput."""
    g = m.goodput
    if g.rate_rps is None:
        return None
    share = format_value(g.percent, "%")
    return ("goodput", f"{format_value(g.rate_rps, 'req/s')} ({share} of requests)")


__all__ = [
    "cache_section",
    "goodput_row",
    "goodput_section",
    "llm_sections",
    "proxy_section",
    "streaming_section",
    "usage_section",
]
