"""Report sections for streaming, goodput, proxy overhead and cache effect, from summary.json.

Pure view builders: each takes the ``measurements`` object and returns plain strings in
``{"id", "title", "caption", "tables": [{"head", "rows", "note"}]}``, or nothing when the run
has no such data (so the page leaves the section out).
"""

from __future__ import annotations

from typing import Any

from analysis.outputs.formatting import format_count, format_value

_STREAM_QUANTILES = ("p50", "p90", "p95", "p99", "p999", "max")
_STREAM_HEAD = ["", "requests", "P50", "P90", "P95", "P99", "P99.9", "max"]
_RATE_QUANTILES = ("p50", "p10", "p5", "p1", "min")
_SPLIT = ("p50", "p95", "p99")


def _row(label: str, count: Any, values: dict[str, Any], keys: tuple[str, ...], unit: str):
    return [label, format_count(count), *(format_value(values.get(k), unit) for k in keys)]


def streaming_section(m: dict[str, Any]) -> dict[str, Any] | None:
    """TTFT (from intended and from actual send), ITL and tokens/s percentiles; completion."""
    s = m.get("streaming") or {}
    if not s.get("requests"):
        return None
    ttft_count = s.get("ttft_requests")
    latency = [
        _row("TTFT from intended send", ttft_count, s.get("ttft_ms") or {}, _STREAM_QUANTILES,
             "ms"),
        _row("TTFT from actual send", ttft_count, s.get("ttft_from_send_ms") or {},
             _STREAM_QUANTILES, "ms"),
        _row("inter-token latency", s.get("itl_requests"), s.get("itl_ms") or {},
             _STREAM_QUANTILES, "ms"),
    ]  # fmt: skip
    rates = [_row("tokens/s", s.get("rate_requests"), s.get("tokens_per_s") or {},
                  _RATE_QUANTILES, "tokens/s")]  # fmt: skip
    completion = (
        f"{format_count(s.get('completed'))} of {format_count(s.get('requests'))} streams "
        f"completed with [DONE] ({format_value(s.get('completion_percent'), '%')}); "
        f"{format_count(s.get('tokens'))} tokens received."
    )
    caption = (
        "Streamed requests intended in the steady window. TTFT: time to the first content token, "
        "from the intended send (corrected for coordinated omission) and from the actual send; "
        "inter-token latency: (last − first token) / (tokens − 1) per request with 2 or more "
        "tokens; tokens/s: tokens / service time per completed stream, its slow tail at the low "
        "percentiles. " + completion
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


def goodput_section(m: dict[str, Any]) -> dict[str, Any] | None:
    """Good requests against all, with the thresholds and what the others missed."""
    g = m.get("goodput") or {}
    if g.get("percent") is None:
        return None
    thresholds = ", ".join(
        f"{name.removesuffix('_ms')} ≤ {value:g} ms"
        for name, value in (g.get("thresholds_ms") or {}).items()
    )
    rows = [
        ["thresholds", f"{thresholds} ({g.get('thresholds_source') or '—'})"],
        ["good requests", f"{format_count(g.get('good'))} of {format_count(g.get('requests'))}"],
        ["goodput", format_value(g.get("percent"), "%")],
        ["goodput rate", format_value(g.get("rate_rps"), "req/s")],
        ["throughput (sent)", format_value(m.get("rate_rps"), "req/s")],
    ]
    rows += [
        [f"missed: {'failed' if name == 'failed' else name.removesuffix('_ms')}", format_count(n)]
        for name, n in (g.get("missed") or {}).items()
    ]
    caption = (
        "Goodput: requests intended in the steady window that succeeded and met every "
        "per-request threshold (response time for plain requests; TTFT and inter-token latency "
        "for streamed ones). A request may miss several thresholds."
    )
    return {"id": "goodput", "title": "Goodput", "caption": caption,
            "tables": [{"head": ["", "value"], "rows": rows, "note": ""}]}  # fmt: skip


def proxy_section(m: dict[str, Any]) -> dict[str, Any] | None:
    """Reported overhead and upstream time, and the client-side time neither explains."""
    p = m.get("proxy") or {}
    if not p.get("requests") and not p.get("upstream_requests"):
        return None
    keys = ("p50", "p95", "p99", "max")
    rows = [
        _row("proxy overhead (reported)", p.get("requests"), p.get("overhead_ms") or {}, keys,
             "ms"),
        _row("upstream time (reported)", p.get("upstream_requests"), p.get("upstream_ms") or {},
             keys, "ms"),
        _row("unexplained (client − both)", p.get("unexplained_requests"),
             p.get("unexplained_ms") or {}, keys, "ms"),
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


def cache_section(m: dict[str, Any]) -> dict[str, Any] | None:
    """Hit ratio and latency by HIT / MISS, overall and by request kind."""
    c = m.get("cache_effect") or {}
    if not (c.get("hits") or c.get("misses")):
        return None
    by_status = c.get("by_status") or {}
    streams = any("ttft_ms" in v for v in by_status.values())
    head = ["X-Cache-Status", "requests", "P50", "P95", "P99"]
    head += ["TTFT P50", "TTFT P95", "TTFT P99"] if streams else []
    rows = []
    for status, v in by_status.items():
        row = _row(status, v.get("requests"), v.get("latency_ms") or {}, _SPLIT, "ms")
        if streams:
            row += [format_value((v.get("ttft_ms") or {}).get(q), "ms") for q in _SPLIT]
        rows.append(row)
    kind_head = ["kind", "HIT", "MISS", "hit ratio"]
    kind_head += [f"{s} {q.upper()}" for s in ("HIT", "MISS") for q in _SPLIT]
    kind_rows = [
        [kind, format_count(v.get("hits")), format_count(v.get("misses")),
         format_value(v.get("hit_percent"), "%"),
         *(format_value(v.get(f"{s}_{q}_ms"), "ms") for s in ("hit", "miss") for q in _SPLIT)]
        for kind, v in (c.get("by_kind") or {}).items()
    ]  # fmt: skip
    ratio = format_value(c.get("hit_percent"), "%")
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


def llm_sections(m: dict[str, Any]) -> list[dict[str, Any]]:
    """The sections this run has data for, in page order."""
    sections = (streaming_section(m), goodput_section(m), proxy_section(m), cache_section(m))
    return [s for s in sections if s is not None]


def goodput_row(m: dict[str, Any]) -> tuple[str, str] | None:
    """The key-measurements row beside the achieved rate; None without goodput."""
    g = m.get("goodput") or {}
    if g.get("rate_rps") is None:
        return None
    share = format_value(g.get("percent"), "%")
    return ("goodput", f"{format_value(g.get('rate_rps'), 'req/s')} ({share} of requests)")


__all__ = [
    "cache_section",
    "goodput_row",
    "goodput_section",
    "llm_sections",
    "proxy_section",
    "streaming_section",
]
