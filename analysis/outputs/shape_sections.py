"""Report sections of a staged run (stages, spike recovery, knee, memory growth) from summary.json.

Pure: ``shape_sections(summary)`` gives the ``extra_sections`` of
``analysis.outputs.report.build_view`` (title, caption, head, rows; strings only), so ``edgeperf
analyze`` redraws them from the file."""

from __future__ import annotations

from typing import Any

from analysis.outputs.formatting import format_bytes, format_count, format_value
from analysis.shapes.soak import WARMUP_MAX_S, WARMUP_SHARE
from analysis.shapes.spike import (
    ERROR_FACTOR,
    ERROR_SLACK_PERCENT,
    P99_FACTOR,
    P99_SLACK_MS,
    SUSTAIN_S,
)
from analysis.shapes.stages import SETTLE_MAX_S, SETTLE_SHARE

SOAK_SECTION_MIN_S = 600.0  # without a memory growth target, show the fit for runs this long


def _met(stage: dict[str, Any]) -> str:
    if stage.get("met") is None:
        return f"— ({stage.get('reason') or 'not judged'})"
    if stage["met"]:
        return "met"
    return "missed: " + "; ".join(stage.get("missed") or [])


def _schedule(stage: dict[str, Any]) -> str:
    start, end = stage.get("start_rps"), stage.get("end_rps")
    rate = f"{end:g}" if start == end else f"{start:g} → {end:g}"
    at = stage.get("start_s"), stage.get("end_s")
    when = f"{at[0]:g}–{at[1]:g} s, " if None not in at else ""
    return f"{when}{rate} req/s"


def stages_section(m: dict[str, Any]) -> dict[str, Any] | None:
    stages = m.get("stages") or []
    if not stages:
        return None
    head = ["stage", "schedule", "judged", "offered", "achieved", "requests", "P50", "P95",
            "P99", "errors", "targets"]  # fmt: skip
    rows = [
        [
            str(s["stage"]),
            _schedule(s),
            "yes" if s.get("judge") else "no",
            format_value(s.get("offered_rps"), "req/s"),
            format_value(s.get("achieved_rps"), "req/s"),
            format_count(s.get("requests")),
            *(
                format_value((s.get("latency_ms") or {}).get(p), "ms")
                for p in ("p50", "p95", "p99")
            ),
            format_value(s.get("error_percent"), "%"),
            _met(s),
        ]
        for s in stages
    ]
    criteria = ", ".join(f"{k} {v}" for k, v in (m.get("stage_targets") or {}).items())
    caption = (
        f"Each stage measured after its first min({SETTLE_MAX_S:g} s, {SETTLE_SHARE * 100:g} % of "
        "the stage) as settling: requests by intended send time, response time from the intended "
        "send, achieved rate by actual send time, offered rate as scheduled. Targets of each "
        f"stage: {criteria or 'none (the scenario has no latency or error targets)'}."
    )
    return {"title": "Stages", "caption": caption, "head": head, "rows": rows}


def spike_sections(m: dict[str, Any]) -> list[dict[str, Any]]:
    spike = m.get("spike")
    if not spike:
        return []
    if spike.get("recovery_s") is not None:
        recovery = format_value(spike["recovery_s"], "s")
    elif spike.get("recovered") is False:
        recovery = f"did not recover ({spike.get('reason')})"
    else:
        recovery = f"— ({spike.get('reason')})"
    met = spike.get("spike_stage_met")
    rows = [
        [
            "spike",
            f"stage {spike['stage']}: {spike['spike_rps']:g} req/s after "
            f"{spike['baseline_rps']:g} req/s",
        ],  # fmt: skip
        ["spike stage targets", "—" if met is None else ("met" if met else "missed")],
        ["baseline P99 (worst second before)", format_value(spike.get("baseline_p99_ms"), "ms")],
        ["baseline error rate", format_value(spike.get("baseline_error_percent"), "%")],
        ["tolerance: P99 at most", format_value(spike.get("p99_limit_ms"), "ms")],
        ["tolerance: error rate at most", format_value(spike.get("error_limit_percent"), "%")],
        ["recovery time after the spike's end", recovery],
    ]
    caption = (
        f"Recovery: the first whole second after the spike's end that starts {SUSTAIN_S} "
        f"consecutive seconds with P99 <= max({P99_FACTOR:g} × baseline P99, baseline P99 + "
        f"{P99_SLACK_MS:g} ms) and error rate <= max({ERROR_FACTOR:g} × baseline, baseline + "
        f"{ERROR_SLACK_PERCENT:g} percentage point). Baseline: the stage before the spike, its "
        "highest per-second P99 and its error rate, after its settling seconds."
    )
    sections = [{"title": "Spike recovery", "caption": caption, "head": ["", ""], "rows": rows}]
    seconds = spike.get("seconds") or []
    if seconds:
        sections.append(
            {
                "title": "Seconds after the spike",
                "caption": "Requests intended in each whole second after the spike's end.",
                "head": ["second", "requests", "P99", "errors", "within tolerance"],
                "rows": [
                    [
                        f"{s['k']}–{s['k'] + 1} s",
                        format_count(s.get("requests")),
                        format_value(s.get("p99_ms"), "ms"),
                        format_value(s.get("error_percent"), "%"),
                        "yes" if s.get("within") else "no",
                    ]
                    for s in seconds
                ],  # fmt: skip
            }
        )
    return sections


def knee_section(m: dict[str, Any]) -> dict[str, Any] | None:
    knee = m.get("knee")
    if not knee:
        return None
    failing = knee.get("first_failing_stage")
    rows = [
        ["knee", format_value(knee.get("knee_rps"), "req/s")],
        ["steps judged", format_count(knee.get("steps"))],
        [
            "first failing step",
            "none" if failing is None else f"stage {failing}: {knee['first_failing_rps']:g} req/s",
        ],
        ["why", "; ".join(knee.get("why") or []) or "—"],
        ["note", knee.get("reason") or "—"],
    ]
    caption = (
        "The knee is the rate of the last step (judged constant-rate stage, in order of rate) "
        "before the first that missed a latency or error target, each step judged after its "
        "settling seconds (see Stages); 0 when the lowest step already failed."
    )
    return {"title": "Stress: the knee", "caption": caption, "head": ["", ""], "rows": rows}


def memory_section(summary: dict[str, Any]) -> dict[str, Any] | None:
    growth = (summary.get("measurements") or {}).get("memory_growth") or {}
    targeted = any(
        v.get("metric") == "memory_growth_mb_per_h" for v in summary.get("verdicts") or []
    )
    if not growth or not (targeted or (growth.get("fitted_s") or 0) >= SOAK_SECTION_MIN_S):
        return None
    slope = growth.get("slope_mb_per_h")
    low, high = growth.get("low_mb_per_h"), growth.get("high_mb_per_h")
    rows = [
        ["slope", format_value(slope, "MB/h") if slope is not None else f"— ({growth['reason']})"],
        ["95 % interval", "—" if None in (low, high) else f"{low:.4g} .. {high:.4g} MB/h"],
        ["points fitted", format_count(growth.get("points"))],
        ["time fitted", format_value(growth.get("fitted_s"), "s")],
        ["warm-up left out", format_value(growth.get("warmup_s"), "s")],
        ["first → last", _bytes_pair(growth.get("first_bytes"), growth.get("last_bytes"))],
        ["source", growth.get("source") or "—"],
    ]
    caption = (
        "Least-squares slope of the server's memory over the judged window, after a warm-up of "
        f"min({WARMUP_MAX_S:g} s, {WARMUP_SHARE * 100:g} % of the window); decimal MB. "
        "The interval assumes independent points, so it is optimistic on short runs."
    )
    return {"title": "Memory growth", "caption": caption, "head": ["", ""], "rows": rows}


def _bytes_pair(first: float | None, last: float | None) -> str:
    if first is None or last is None:
        return "—"
    return f"{format_bytes(first)} → {format_bytes(last)}"


def shape_sections(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The report sections for ``summary``: only those with something to show."""
    m = summary.get("measurements") or {}
    sections = [stages_section(m), *spike_sections(m), knee_section(m), memory_section(summary)]
    return [s for s in sections if s is not None]


__all__ = ["knee_section", "memory_section", "shape_sections", "spike_sections", "stages_section"]
