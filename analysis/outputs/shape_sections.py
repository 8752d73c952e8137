"""Report sections of a staged run (stages, spike recovery, knee, memory growth) from summary.json.

Pure: ``shape_sections(result)`` gives the ``extra_sections`` of
``analysis.outputs.report.build_view`` (title, caption, head, rows; strings only), so ``edgeperf
analyze`` redraws them from the file."""

from __future__ import annotations

from typing import Any

from analysis.judging.result import Measurements, RunResult, Stage
from analysis.outputs.formatting import format_bytes, format_count, format_value
from analysis.shapes.soak import STEADY_MIN_SHARE
from analysis.shapes.spike import (
    ERROR_FACTOR,
    ERROR_SLACK_PERCENT,
    P99_FACTOR,
    P99_SLACK_MS,
    SUSTAIN_S,
)
from analysis.shapes.stages import SETTLE_MAX_S, SETTLE_SHARE

SOAK_SECTION_MIN_S = 600.0  # without a memory growth target, show the fit for runs this long


def _met(stage: Stage) -> str:
    if stage.met is None:
        return f"— ({stage.reason or 'not judged'})"
    if stage.met:
        return "met"
    return "missed: " + "; ".join(stage.missed)


def _schedule(stage: Stage) -> str:
    start, end = stage.start_rps, stage.end_rps
    rate = f"{end:g}" if start == end else f"{start:g} → {end:g}"
    at = stage.start_s, stage.end_s
    when = f"{at[0]:g}–{at[1]:g} s, " if None not in at else ""
    return f"{when}{rate} req/s"


def stages_section(m: Measurements) -> dict[str, Any] | None:
    stages = m.stages
    if not stages:
        return None
    head = ["stage", "schedule", "judged", "offered", "achieved", "requests", "P50", "P95",
            "P99", "errors", "targets"]  # fmt: skip
    rows = [
        [
            str(s.stage),
            _schedule(s),
            "yes" if s.judge else "no",
            format_value(s.offered_rps, "req/s"),
            format_value(s.achieved_rps, "req/s"),
            format_count(s.requests),
            *(
                format_value(v, "ms")
                for v in (s.latency_ms.p50, s.latency_ms.p95, s.latency_ms.p99)
            ),
            format_value(s.error_percent, "%"),
            _met(s),
        ]
        for s in stages
    ]
    criteria = ", ".join(f"{k} {v}" for k, v in m.stage_targets.items())
    caption = (
        f"Each stage measured after its first min({SETTLE_MAX_S:g} s, {SETTLE_SHARE * 100:g} % of "
        "the stage) as settling: requests by intended send time, response time from the intended "
        "send, achieved rate by actual send time, offered rate as scheduled. Targets of each "
        f"stage: {criteria or 'none (the scenario has no latency or error targets)'}."
    )
    return {"title": "Stages", "caption": caption, "head": head, "rows": rows}


def spike_sections(m: Measurements) -> list[dict[str, Any]]:
    spike = m.spike
    if spike is None or spike.empty():
        return []
    if spike.recovery_s is not None:
        recovery = format_value(spike.recovery_s, "s")
    elif spike.recovered is False:
        recovery = f"did not recover ({spike.reason})"
    else:
        recovery = f"— ({spike.reason})"
    met = spike.spike_stage_met
    rows = [
        [
            "spike",
            f"stage {spike.stage}: {spike.spike_rps:g} req/s after {spike.baseline_rps:g} req/s",
        ],
        ["spike stage targets", "—" if met is None else ("met" if met else "missed")],
        ["baseline P99 (worst second before)", format_value(spike.baseline_p99_ms, "ms")],
        ["baseline error rate", format_value(spike.baseline_error_percent, "%")],
        ["tolerance: P99 at most", format_value(spike.p99_limit_ms, "ms")],
        ["tolerance: error rate at most", format_value(spike.error_limit_percent, "%")],
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
    seconds = spike.seconds
    if seconds:
        sections.append(
            {
                "title": "Seconds after the spike",
                "caption": "Requests intended in each whole second after the spike's end.",
                "head": ["second", "requests", "P99", "errors", "within tolerance"],
                "rows": [
                    [
                        f"{s.k}–{(s.k or 0) + 1} s",
                        format_count(s.requests),
                        format_value(s.p99_ms, "ms"),
                        format_value(s.error_percent, "%"),
                        "yes" if s.within else "no",
                    ]
                    for s in seconds
                ],  # fmt: skip
            }
        )
    return sections


def knee_section(m: Measurements) -> dict[str, Any] | None:
    knee = m.knee
    if knee is None or knee.empty():
        return None
    failing = knee.first_failing_stage
    rows = [
        ["knee", format_value(knee.knee_rps, "req/s")],
        ["steps judged", format_count(knee.steps)],
        [
            "first failing step",
            "none" if failing is None else f"stage {failing}: {knee.first_failing_rps:g} req/s",
        ],
        ["why", "; ".join(knee.why) or "—"],
        ["note", knee.reason or "—"],
    ]
    caption = (
        "The knee is the rate of the last step (judged constant-rate stage, in order of rate) "
        "before the first that missed a latency or error target, each step judged after its "
        "settling seconds (see Stages); 0 when the lowest step already failed."
    )
    return {"title": "Stress: the knee", "caption": caption, "head": ["", ""], "rows": rows}


def memory_section(result: RunResult) -> dict[str, Any] | None:
    growth = result.measurements.memory_growth
    targeted = any(v.metric == "memory_growth_mb_per_h" for v in result.verdicts)
    if (
        growth is None
        or growth.empty()
        or not (targeted or (growth.fitted_s or 0) >= SOAK_SECTION_MIN_S)
    ):
        return None
    slope = growth.slope_mb_per_h
    low, high = growth.low_mb_per_h, growth.high_mb_per_h
    rows = [
        ["shape", growth.description or "—"],
        [
            "sustained slope",
            format_value(slope, "MB/h") if slope is not None else f"— ({growth.reason})",
        ],
        ["95 % interval", "—" if low is None or high is None else f"{low:.4g} .. {high:.4g} MB/h"],
        ["steady from", _steady_from(growth.fit_start_s, growth.warmup_s)],
        ["rise before it", format_bytes(growth.rise_bytes) if growth.rise_bytes else "—"],
        ["points fitted", format_count(growth.points)],
        ["time fitted", format_value(growth.fitted_s, "s")],
        ["first → last fitted", _bytes_pair(growth.first_bytes, growth.last_bytes)],
        ["source", growth.source or "—"],
    ]
    caption = (
        "Where the server's memory is steady (the start that fits a line best, leaving at least "
        f"{STEADY_MIN_SHARE:.0%} of the judged window) and its least-squares slope from there; "
        "a rise before it that levels off is a plateau (a cache or heap filling), not a leak. "
        "Decimal MB. The interval assumes independent points, so it is optimistic on short runs. "
        "The memory chart draws the fitted line."
    )
    return {"title": "Memory growth", "caption": caption, "head": ["", ""], "rows": rows}


def _steady_from(since_start_s: float | None, into_window_s: float | None) -> str:
    if since_start_s is None or into_window_s is None:
        return "—"
    return f"{since_start_s:.0f} s after the load's start ({into_window_s:.0f} s into the window)"


def _bytes_pair(first: float | None, last: float | None) -> str:
    if first is None or last is None:
        return "—"
    return f"{format_bytes(first)} → {format_bytes(last)}"


def shape_sections(result: RunResult) -> list[dict[str, Any]]:
    """The report sections for ``result``: only those with something to show."""
    m = result.measurements
    sections = [stages_section(m), *spike_sections(m), knee_section(m), memory_section(result)]
    return [s for s in sections if s is not None]


__all__ = ["knee_section", "memory_section", "shape_sections", "spike_sections", "stages_section"]
