"""Report parts on the generator's own stalls, from summary.json: a latency row and a table.

Pure functions of the saved ``Measurements`` (see ``analysis.measuring.stalls`` for the rule), so
``edgeperf analyze`` redraws them from the file.
"""

from __future__ import annotations

from typing import Any

from analysis.judging.result import Measurements
from analysis.measuring.stalls import LAG_THRESHOLD_US
from analysis.outputs.formatting import format_count, format_value


def without_stalls_row(m: Measurements, cells: list[str]) -> dict[str, Any] | None:
    """The latency row with what the stalls can have added taken out, when they delayed any
    request (``cells`` are its formatted percentiles)."""
    if not m.stall_delayed_requests:
        return None
    label = (
        "response time without generator stalls (what they can have added to "
        f"{format_count(m.stall_delayed_requests)} requests taken out)"
    )
    return {"label": label, "cells": cells}


def stalls_table(m: Measurements) -> dict[str, Any] | None:
    """One row a stall: when, how long, how many requests it delayed, the likely cause."""
    if not m.generator_stalls:
        return None
    head = ["start", "duration", "requests sent late", "held in flight", "worker", "likely cause"]
    rows = [
        [
            format_value(s.start_s, "s"),
            format_value(s.duration_ms, "ms"),
            format_count(s.requests),
            format_count(s.held_in_flight)
            + (f" (up to {format_value(s.held_max_service_ms, 'ms')})" if s.held_in_flight else ""),
            format_count(s.worker),
            s.cause,
        ]
        for s in m.generator_stalls
    ]
    count = m.generator_stall_count or len(rows)
    caption = (
        f"Pauses of the load generator itself: requests due then left more than "
        f"{LAG_THRESHOLD_US / 1000:g} ms late together while fewer than the concurrency cap were "
        "in flight (a full cap is the target's doing, not listed). Latency counts from the "
        "intended send, so these requests carry the pause; answers in flight were read late. "
        "Start in s from the load's start; duration is the largest send lag."
        + (f" The {len(rows)} longest of {count:,} are listed." if count > len(rows) else "")
    )
    return {"title": "Generator stalls", "caption": caption, "head": head, "rows": rows}


__all__ = ["stalls_table", "without_stalls_row"]
