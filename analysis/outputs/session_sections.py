"""The report's multi-turn sessions section from summary.json: figures by turn, outcomes.

Pure: ``session_sections(result)`` gives ``extra_sections`` entries of
``analysis.outputs.report.build_view`` (title, caption, head, rows; strings only).
"""

from __future__ import annotations

from typing import Any

from analysis.judging.result import RunResult, SessionTurn
from analysis.outputs.formatting import format_count, format_value

HEAD = [
    "turn",
    "requests",
    "errors",
    "TTFT P50",
    "TTFT P95",
    "latency P50",
    "latency P95",
    "request P50",
    "request max",
    "cache hits",
    "hit %",
]


def _row(turn: SessionTurn) -> list[str]:
    return [
        turn.turn,
        format_count(turn.requests),
        format_count(turn.errors),
        format_value(turn.ttft_ms.p50, "ms"),
        format_value(turn.ttft_ms.p95, "ms"),
        format_value(turn.latency_ms.p50, "ms"),
        format_value(turn.latency_ms.p95, "ms"),
        format_value(turn.request_bytes_p50, "bytes"),
        format_value(turn.request_bytes_max, "bytes"),
        f"{format_count(turn.hits)} / {format_count((turn.hits or 0) + (turn.misses or 0))}",
        format_value(turn.hit_percent, "%"),
    ]


def session_sections(result: RunResult) -> list[dict[str, Any]]:
    """The "Multi-turn sessions" table, when the run had sessions."""
    sessions = result.measurements.sessions
    if sessions is None:
        return []
    rows = [_row(turn) for turn in sessions.by_turn]
    if sessions.by_turn:
        rows += [_row(sessions.first_turn), _row(sessions.later_turns)]
    outcome = (
        f"{format_count(sessions.started)} sessions started in the run: "
        f"{format_count(sessions.completed)} completed "
        f"({format_value(sessions.completed_percent, '%')}), {format_count(sessions.failed)} "
        f"ended by a failed turn, {format_count(sessions.cut)} cut by the run's end between "
        "turns. "
    )
    caption = (
        outcome + "By turn, over the turns intended in the judged window: time to first token "
        "(streamed turns) and latency, each from the turn's intended send (for a later turn the "
        "previous answer's end plus its think time); the request body's size, which grows as "
        "each turn carries the turns before it; cache hits / HIT or MISS responses. The last "
        "rows pool turn 1 (first) and every later turn (later)."
        + (f" {sessions.missing}." if sessions.missing else "")
    )
    return [{"title": "Multi-turn sessions", "caption": caption, "head": HEAD, "rows": rows}]


__all__ = ["session_sections"]
