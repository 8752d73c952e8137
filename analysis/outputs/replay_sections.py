"""The report's "Replay fidelity" table from summary.json: send lag, rows sent and skipped.

Pure: ``replay_sections(result)`` gives ``extra_sections`` entries of
``analysis.outputs.report.build_view`` (title, caption, head, rows; strings only).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from analysis.judging.result import Replay, RunResult
from analysis.outputs.formatting import format_count, format_value


def _share(part: float | None, whole: float | None) -> str:
    if part is None or not whole:
        return "—"
    return format_value(100.0 * part / whole, "%")


def _rows(replay: Replay) -> list[list[str]]:
    lag = replay.send_lag_ms
    skipped = replay.rows_skipped
    in_file = replay.rows_in_file
    scheduled = replay.rows_scheduled
    lag_text = " / ".join(format_value(v, "ms") for v in (lag.p50, lag.p99, lag.p999, lag.max))
    on_time = f"{format_value(replay.on_time_ms, 'ms')}"
    return [
        ["trace", f"{PurePath(replay.file).name} ({replay.format})",
         f"×{replay.speedup:.4g} speed-up, {format_count(replay.passes)} pass(es)"],
        ["rows in the file", format_count(in_file), ""],
        ["outside the window", format_count(skipped.outside_window), "skipped, all passes"],
        ["invalid (zero length)", format_count(skipped.invalid), "skipped, all passes"],
        ["scheduled", format_count(scheduled), "window × passes"],
        ["sent", format_count(replay.rows_sent), _share(replay.rows_sent, scheduled)],
        ["due, not sent", format_count(skipped.not_sent), "the concurrency cap stayed full"],
        ["unaccounted", format_count(skipped.unaccounted), "the run ended early"],
        ["send lag P50 / P99 / P99.9 / max", lag_text, "against the trace's timestamps"],
        [f"sent within {on_time}", format_value(replay.on_time_percent, "%"), "of rows sent"],
    ]  # fmt: skip


def replay_sections(result: RunResult) -> list[dict[str, Any]]:
    """The "Replay fidelity" table, when the run replayed a trace."""
    replay = result.measurements.replay
    if replay is None:
        return []
    caption = (
        "Each row of the trace is due at its trace time (timestamp minus the first row's), less "
        "the window's start, divided by the speed-up; send lag is when it left minus that time, "
        "over every row sent. Rows outside the window and rows with a zero input or output "
        "length are never scheduled; due rows the generator could not send (its concurrency cap "
        "full past the request timeout) are not sent. See docs/traces.md."
    )
    return [
        {
            "title": "Replay fidelity",
            "caption": caption,
            "head": ["", "rows / value", "note"],
            "rows": _rows(replay),
        }
    ]


__all__ = ["replay_sections"]
