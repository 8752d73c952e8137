"""The knee of a stress run: the highest step rate at which the target still met its targets.

Steps are the judged stages whose scheduled rate is constant (ramps are left out); a stress run
has at least ``MIN_STEPS`` of them and their rates rise in schedule order (so a spike, which
comes back down, has no knee). Each step is judged on its measured part (``analysis.shapes.stages``:
its first seconds are settling) against the stage targets: P50/P95/P99 response time and error
rate. The knee is the rate of the last step before the first one that missed a target; that
first failing step and what it missed are reported beside it. When every step met its targets
the knee is the highest step (it may lie above); when the lowest step already failed it is 0
(below every step). A step that could not be judged (no requests, no targets) before any failure
leaves the knee unknown (NaN, NO DATA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from analysis.shapes.stages import StageResult

MIN_STEPS = 2


@dataclass(frozen=True)
class Knee:
    """``knee_rps`` (NaN: unknown, ``reason`` says why) and the first failing step, if any."""

    knee_rps: float
    reason: str = ""
    steps: int = 0
    stress: bool = False  # the run is a stress run: enough steps, rising
    first_failing_index: int | None = None
    first_failing_rps: float = math.nan
    why: tuple[str, ...] = ()

    @property
    def bounded(self) -> bool:
        """A step failed above the knee, so the true knee lies below ``first_failing_rps``."""
        return self.first_failing_index is not None


def steps_of(stages: tuple[StageResult, ...]) -> list[StageResult]:
    """The judged constant-rate stages with a rate above 0, lowest rate first (stable)."""
    steps = [s for s in stages if s.judge and s.constant and s.end_rps > 0]
    return sorted(steps, key=lambda s: s.end_rps)


def find_knee(stages: tuple[StageResult, ...]) -> Knee:
    """The knee of ``stages`` (already judged, see ``analysis.shapes.stages.measure_stages``)."""
    steps = steps_of(stages)
    if len(steps) < MIN_STEPS:
        reason = (
            f"no knee: {len(steps)} constant-rate judged stage(s); a stress run needs "
            f"at least {MIN_STEPS} steps"
        )
        return Knee(math.nan, reason, len(steps))
    in_order = [s.end_rps for s in sorted(steps, key=lambda s: s.index)]
    if any(b <= a for a, b in zip(in_order, in_order[1:], strict=False)):
        rates = ", ".join(f"{r:g}" for r in in_order)
        reason = f"no knee: the steps do not rise in schedule order ({rates} req/s)"
        return Knee(math.nan, reason, len(steps))
    knee = math.nan
    for step in steps:
        label = f"step {step.index + 1} ({step.end_rps:g} req/s)"
        if step.met is None:
            below = f"; every step up to {knee:g} req/s met them" if knee == knee else ""
            reason = f"{label} could not be judged: {step.reason}{below}"
            return Knee(math.nan, reason, len(steps), True)
        if not step.met:
            if math.isnan(knee):
                reason = f"even the lowest {label} missed its targets: the knee lies below it"
                knee = 0.0
            else:
                reason = f"{label} is the first to miss its targets"
            return Knee(knee, reason, len(steps), True, step.index, step.end_rps, step.missed)
        knee = step.end_rps
    reason = f"no step failed: the knee is at or above the highest step, {knee:g} req/s"
    return Knee(knee, reason, len(steps), True)


__all__ = ["MIN_STEPS", "Knee", "find_knee", "steps_of"]
