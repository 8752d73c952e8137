"""Stage-based judgements of one run: per-stage figures, spike recovery, stress knee, memory growth.

``analyze_shape`` is a pure function of a run already read (plus its judged window and the
server's memory measurement, for the reason when memory is missing); ``shape_measurements``
gives the ``summary.json`` keys, ``shape_verdict_measurements`` what the verdict metrics
``spike_recovery_s``, ``knee_rps`` and ``memory_growth_mb_per_h`` are judged on. The report's
sections are drawn from the saved summary (``analysis.outputs.shape_sections``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from analysis.contract.schema import SCENARIO_FILE
from analysis.contract.targets import Target
from analysis.measuring.client import US_PER_S, Measured, Window
from analysis.measuring.serverside import (
    ServerMeasurements,
    chosen_source,
    metric_points,
    query_source,
)
from analysis.measuring.tally import Tally
from analysis.measuring.timeseries import SecondsTally, time_origin_us
from analysis.reading.errors import RunDirError
from analysis.reading.rundir import RunData
from analysis.shapes.knee import Knee, find_knee
from analysis.shapes.soak import MemoryGrowth, memory_growth
from analysis.shapes.spike import (
    ERROR_FACTOR,
    ERROR_SLACK_PERCENT,
    P99_FACTOR,
    P99_SLACK_MS,
    SUSTAIN_S,
    SpikeRecovery,
    spike_recovery,
)
from analysis.shapes.stages import StageResult, measure_stages, stage_targets, stages_from


@dataclass(frozen=True)
class ShapeAnalysis:
    """What the stages of a run say; ``origin_us`` is the load's start (stage times from it)."""

    stages: tuple[StageResult, ...]
    criteria: dict[str, Target]
    spike: SpikeRecovery
    knee: Knee
    memory: MemoryGrowth
    memory_source: str = ""
    origin_us: int | None = None
    multi_stage: bool = False


def run_criteria(run: RunData) -> dict[str, Target]:
    """The stage criteria of ``run``; RunDirError for a malformed ``stage_targets`` section."""
    try:
        return stage_targets(run.scenario.get("stage_targets"), run.targets)
    except ValueError as exc:
        raise RunDirError(run.run_dir / SCENARIO_FILE, str(exc)) from None


def analyze_shape(
    run: RunData,
    window: Window | None,
    server: ServerMeasurements,
    swept: tuple[Tally, dict[tuple[int, int], SecondsTally]] | None = None,
    chart_origin_us: int | None = None,
) -> ShapeAnalysis:
    """Measure every stage, find the spike and the knee, fit the memory growth.

    ``swept``: the tally and spike tallies of a sweep, with ``chart_origin_us`` (second 0 of the
    charts) that the sweep was planned on; without, the samples in memory."""
    criteria = run_criteria(run)
    load = run.metadata.get("load") or {}
    plan = list(load.get("stages") or [])
    if swept is None:
        stages = measure_stages(run.samples, plan, criteria)
    else:
        stages = stages_from(swept[0], plan, criteria)
    source = chosen_source(run.series, "memory_bytes")
    text = query_source(run.queries, "memory_bytes", source)[0] if source else ""
    memory = memory_growth(
        metric_points(run.series, "memory_bytes"),
        window,
        server.memory_max_bytes.reason,
        origin_us=chart_origin_us
        if swept is not None
        else time_origin_us(run.metadata, run.samples),
    )
    return ShapeAnalysis(
        stages=stages,
        criteria=criteria,
        spike=spike_recovery(run.samples if swept is None else swept[1], stages),
        knee=find_knee(stages),
        memory=memory,
        memory_source=text or (f"{source}: memory_bytes series" if source else ""),
        origin_us=load.get("start_us"),
        multi_stage=len(stages) >= 2,
    )


def _seconds(origin_us: int | None, at_us: int) -> float | None:
    return None if origin_us is None else round((at_us - origin_us) / US_PER_S, 3)


def _stage(stage: StageResult, origin_us: int | None) -> dict[str, Any]:
    return {
        "stage": stage.index + 1,
        "start_s": _seconds(origin_us, stage.start_us),
        "end_s": _seconds(origin_us, stage.end_us),
        "start_rps": stage.start_rps,
        "end_rps": stage.end_rps,
        "judge": stage.judge,
        "settle_s": stage.settle_s,
        "offered_rps": stage.offered_rps,
        "achieved_rps": stage.achieved_rps,
        "requests": stage.requests,
        "errors": stage.errors,
        "error_percent": stage.error_percent,
        "latency_ms": {"p50": stage.p50_ms, "p95": stage.p95_ms, "p99": stage.p99_ms},
        "met": stage.met,
        "missed": list(stage.missed),
        "reason": stage.reason,
    }


def _spike(spike: SpikeRecovery) -> dict[str, Any] | None:
    if spike.spike_index is None:
        return None
    return {
        "stage": spike.spike_index + 1,
        "spike_rps": spike.spike_rps,
        "baseline_rps": spike.baseline_rps,
        "recovery_s": spike.recovery_s if math.isfinite(spike.recovery_s) else None,
        "recovered": spike.recovered if not math.isnan(spike.recovery_s) else None,
        "spike_stage_met": spike.spike_met,
        "baseline_p99_ms": spike.baseline_p99_ms,
        "baseline_error_percent": spike.baseline_error_percent,
        "p99_limit_ms": spike.p99_limit_ms,
        "error_limit_percent": spike.error_limit_percent,
        "sustain_s": SUSTAIN_S,
        "observed_s": spike.observed_s,
        "seconds": [
            {
                "k": s.k,
                "requests": s.requests,
                "p99_ms": s.p99_ms,
                "error_percent": s.error_percent,
                "within": s.within,
            }
            for s in spike.seconds
        ],  # fmt: skip
        "reason": spike.reason,
    }


def _knee(knee: Knee) -> dict[str, Any] | None:
    if not knee.stress:
        return None
    return {
        "knee_rps": knee.knee_rps,
        "steps": knee.steps,
        "first_failing_stage": None
        if knee.first_failing_index is None
        else knee.first_failing_index + 1,
        "first_failing_rps": knee.first_failing_rps,
        "why": list(knee.why),
        "reason": knee.reason,
    }


def _memory(memory: MemoryGrowth, source: str) -> dict[str, Any]:
    return {
        "slope_mb_per_h": memory.slope_mb_per_h,
        "low_mb_per_h": memory.low_mb_per_h,
        "high_mb_per_h": memory.high_mb_per_h,
        "points": memory.points,
        "warmup_s": memory.warmup_s,
        "fitted_s": memory.fitted_s,
        "first_bytes": memory.first_bytes,
        "last_bytes": memory.last_bytes,
        "shape": memory.shape,
        "description": memory.description,
        "rise_bytes": memory.rise_bytes,
        "noise_bytes": memory.noise_bytes,
        "fit_start_s": memory.fit_start_s,
        "fit_end_s": memory.fit_end_s,
        "fit_start_bytes": memory.fit_start_bytes,
        "fit_end_bytes": memory.fit_end_bytes,
        "needed_s": memory.needed_s,
        "source": source,
        "reason": memory.reason,
    }


def shape_measurements(shape: ShapeAnalysis) -> dict[str, Any]:
    """The summary keys: ``stages`` (multi-stage runs; else empty), ``stage_targets``,
    ``spike`` and ``knee`` (None when the run has no spike, or is no stress run) and
    ``memory_growth``. Not yet JSON-safe (NaN stays NaN)."""
    return {
        "stages": [_stage(s, shape.origin_us) for s in shape.stages] if shape.multi_stage else [],
        "stage_targets": {metric: t.text for metric, t in shape.criteria.items()},
        "spike": _spike(shape.spike),
        "knee": _knee(shape.knee),
        "memory_growth": _memory(shape.memory, shape.memory_source),
    }


def _criteria_text(criteria: dict[str, Target]) -> str:
    return ", ".join(f"{metric} {t.text}" for metric, t in criteria.items()) or "no targets"


def shape_verdict_measurements(shape: ShapeAnalysis) -> dict[str, Measured]:
    """What ``spike_recovery_s``, ``knee_rps`` and ``memory_growth_mb_per_h`` are judged on."""
    spike = shape.spike
    spike_source = ""
    if spike.spike_index is not None:
        spike_source = (
            f"whole seconds after the spike (stage {spike.spike_index + 1}, "
            f"{spike.spike_rps:g} req/s) until {SUSTAIN_S} in a row have P99 <= "
            f"max({P99_FACTOR:g} × {spike.baseline_p99_ms:.3f}, +{P99_SLACK_MS:g}) ms and "
            f"error rate <= max({ERROR_FACTOR:g} ×, +{ERROR_SLACK_PERCENT:g} pp) "
            "of the stage before (P99: its worst second)"
        )
    knee = shape.knee
    knee_source = f"steps judged on {_criteria_text(shape.criteria)}"
    if knee.first_failing_index is not None:
        missed = "; ".join(knee.why) or "its targets"
        knee_source += (
            f"; first failing: stage {knee.first_failing_index + 1} "
            f"({knee.first_failing_rps:g} req/s): {missed}"
        )
    memory = shape.memory
    memory_source = shape.memory_source
    if memory.shape:
        interval = ""
        if math.isfinite(memory.low_mb_per_h):
            interval = f", 95 % interval {memory.low_mb_per_h:.4g}..{memory.high_mb_per_h:.4g} MB/h"
        memory_source = (
            f"{memory.description}: least-squares slope of the {memory.points} memory_bytes "
            f"points over {memory.fitted_s:.0f} s from where memory is steady "
            f"({memory.warmup_s:.0f} s into the judged window){interval}; {shape.memory_source}"
        )
    return {
        "spike_recovery_s": Measured(spike.recovery_s, spike_source, spike.reason),
        "knee_rps": Measured(knee.knee_rps, knee_source, knee.reason),
        "memory_growth_mb_per_h": Measured(memory.slope_mb_per_h, memory_source, memory.reason),
    }


__all__ = [
    "ShapeAnalysis",
    "analyze_shape",
    "shape_measurements",
    "shape_verdict_measurements",
]
