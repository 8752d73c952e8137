"""Result records of a run's shape: stages, spike recovery, stress knee, memory growth.

Parts of ``analysis.judging.result.RunResult``; see there how they are read and written.
"""

from __future__ import annotations

from pydantic import Field

from analysis.judging.record import Num, Percentiles, Record


class Stage(Record):
    """One stage of a staged run, measured after its settling seconds."""

    stage: int | None = None
    start_s: Num = None
    end_s: Num = None
    start_rps: Num = None
    end_rps: Num = None
    judge: bool | None = None
    settle_s: Num = None
    offered_rps: Num = None
    achieved_rps: Num = None
    requests: Num = None
    errors: Num = None
    error_percent: Num = None
    latency_ms: Percentiles = Field(default_factory=Percentiles)
    met: bool | None = None
    missed: list[str] = Field(default_factory=list)
    reason: str = ""


class SpikeSecond(Record):
    """One whole second after a spike's end."""

    k: int | None = None
    requests: Num = None
    p99_ms: Num = None
    error_percent: Num = None
    within: bool | None = None


class Spike(Record):
    """Recovery after the spike stage, against the stage before."""

    stage: int | None = None
    spike_rps: Num = None
    baseline_rps: Num = None
    recovery_s: Num = None
    recovered: bool | None = None
    spike_stage_met: bool | None = None
    baseline_p99_ms: Num = None
    baseline_error_percent: Num = None
    p99_limit_ms: Num = None
    error_limit_percent: Num = None
    sustain_s: Num = None
    observed_s: Num = None
    seconds: list[SpikeSecond] = Field(default_factory=list)
    reason: str | None = None


class Knee(Record):
    """The knee of a stress run."""

    knee_rps: Num = None
    steps: Num = None
    first_failing_stage: int | None = None
    first_failing_rps: Num = None
    why: list[str] = Field(default_factory=list)
    reason: str = ""


class MemoryGrowth(Record):
    """The shape of the server's memory and its sustained slope (``analysis.shapes.soak``)."""

    slope_mb_per_h: Num = None
    low_mb_per_h: Num = None
    high_mb_per_h: Num = None
    points: Num = None
    warmup_s: Num = None
    fitted_s: Num = None
    first_bytes: Num = None
    last_bytes: Num = None
    shape: str = ""  # flat, plateau, linear, falling or growing (still levelling off)
    description: str = ""
    rise_bytes: Num = None
    noise_bytes: Num = None
    fit_start_s: Num = None  # the fitted line, s from the load's start
    fit_end_s: Num = None
    fit_start_bytes: Num = None
    fit_end_bytes: Num = None
    needed_s: Num = None  # for a shape still growing: the judged window that would tell
    source: str = ""
    reason: str | None = None


__all__ = ["Knee", "MemoryGrowth", "Spike", "SpikeSecond", "Stage"]
