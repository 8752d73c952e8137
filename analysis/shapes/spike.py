"""Recovery after a spike: how long after the spike ends the target behaves as it did before it.

The spike is the stage with the highest scheduled rate that has a stage on each side, both at a
lower rate; the stage before it is the baseline, the stage after it the recovery stage.

Baseline. Over the baseline stage's measured part (``analysis.shapes.stages``: its first seconds are
settling) cut into whole seconds: the baseline P99 is the highest per-second P99, the baseline
error rate the stage's error rate. Per-second figures after the spike are so compared with
per-second figures before it (a P99 of one second's requests is noisier than a stage's), and the
tolerance covers the second-to-second noise the target showed at the baseline rate.

Rule. Cut the recovery stage into whole seconds counted from the spike's end (second k holds the
requests *intended* in [k, k + 1) s after it; a trailing part second is dropped). A second is
*within tolerance* when it has requests, its nearest-rank P99 response time is at most
``max(P99_FACTOR × baseline P99, baseline P99 + P99_SLACK_MS)`` and its error rate at most
``max(ERROR_FACTOR × baseline error rate, baseline error rate + ERROR_SLACK_PERCENT)``. The
recovery time is k of the first second that starts ``SUSTAIN_S`` consecutive seconds within
tolerance: 0 s when the target never left the tolerance. Never: it did not recover (infinite,
which meets no "<" target). A recovery stage shorter than ``SUSTAIN_S`` whole seconds cannot
tell, and neither can a baseline without a whole second of requests: NaN with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analysis.measuring.client import US_PER_S
from analysis.measuring.timeseries import SecondsTally
from analysis.shapes.stages import StageResult, failed_flags

SUSTAIN_S = 5
P99_FACTOR = 1.5
P99_SLACK_MS = 5.0
ERROR_FACTOR = 1.5
ERROR_SLACK_PERCENT = 1.0
MAX_SECONDS_KEPT = 120  # per-second rows kept for the report


@dataclass(frozen=True)
class SecondAfterSpike:
    """Second ``k`` after the spike's end: requests intended in it, their P99 and error rate."""

    k: int
    requests: int
    p99_ms: float
    error_percent: float
    within: bool


@dataclass(frozen=True)
class SpikeRecovery:
    """The spike found in a run's stages and the recovery after it.

    ``recovery_s`` is NaN when it cannot be told (``reason`` says why) and infinite when the
    target did not recover within the ``observed_s`` whole seconds of the recovery stage.
    """

    recovery_s: float
    reason: str = ""
    spike_index: int | None = None
    spike_rps: float = math.nan
    baseline_rps: float = math.nan
    spike_end_us: int | None = None
    baseline_p99_ms: float = math.nan
    baseline_error_percent: float = math.nan
    p99_limit_ms: float = math.nan
    error_limit_percent: float = math.nan
    observed_s: int = 0
    spike_met: bool | None = None
    seconds: tuple[SecondAfterSpike, ...] = ()

    @property
    def recovered(self) -> bool:
        return math.isfinite(self.recovery_s)


def find_spike(stages: tuple[StageResult, ...]) -> int | None:
    """Position in ``stages`` of the spike: highest rate, a lower-rate stage on each side."""
    best: int | None = None
    for i in range(1, len(stages) - 1):
        rate = max(stages[i].start_rps, stages[i].end_rps)
        before, after = stages[i - 1].end_rps, stages[i + 1].start_rps
        higher = best is None or rate > max(stages[best].start_rps, stages[best].end_rps)
        if before < rate and after < rate and higher:
            best = i
    return best


def spike_ranges(stages: tuple[StageResult, ...]) -> list[tuple[int, int]]:
    """The (from, to) µs whose seconds ``spike_recovery`` judges: the settled stage before the
    spike and the stage after it; none without a spike. Stage times and rates suffice."""
    i = find_spike(stages)
    if i is None:
        return []
    base, spike, after = stages[i - 1], stages[i], stages[i + 1]
    return [(base.measured_start_us, base.end_us), (spike.end_us, after.end_us)]


def seconds_tally(from_us: int, to_us: int) -> SecondsTally:
    """The per-second tally of the whole seconds from ``from_us`` up to ``to_us``."""
    whole = int((to_us - from_us) // US_PER_S)
    return SecondsTally(from_us, from_us + whole * US_PER_S)


def judge_seconds(
    tally: SecondsTally, p99_limit_ms: float, error_limit: float
) -> tuple[SecondAfterSpike, ...]:
    """Each whole second of a finished ``seconds_tally``, judged against the limits."""
    assert tally.stop_us is not None
    whole = int((tally.stop_us - tally.origin_us) // US_PER_S)
    frame = tally.frame()
    out = []
    for k in range(whole):
        n = int(frame["requests"].iloc[k]) if k < len(frame) else 0
        p99 = float(frame["p99_ms"].iloc[k]) if n else math.nan
        errors = 100.0 * int(frame["errors"].iloc[k]) / n if n else math.nan
        within = n > 0 and p99 <= p99_limit_ms and errors <= error_limit
        out.append(SecondAfterSpike(k, n, p99, errors, bool(within)))
    return tuple(out)


def seconds_after(
    samples: pd.DataFrame, from_us: int, to_us: int, p99_limit_ms: float, error_limit: float
) -> tuple[SecondAfterSpike, ...]:
    """Whole seconds from ``from_us`` up to ``to_us``, each judged against the limits."""
    tally = seconds_tally(from_us, to_us)
    order = np.argsort(samples["intended_us"].to_numpy(), kind="stable")
    ordered = samples.iloc[order]
    tally.add(ordered.assign(response_us=ordered["done_us"] - ordered["intended_us"]),
              failed_flags(ordered))  # fmt: skip
    tally.finish()
    return judge_seconds(tally, p99_limit_ms, error_limit)


def first_sustained(within: list[bool], sustain: int = SUSTAIN_S) -> int | None:
    """Index of the first run of ``sustain`` consecutive True values, None when there is none."""
    streak = 0
    for i, ok in enumerate(within):
        streak = streak + 1 if ok else 0
        if streak == sustain:
            return i - sustain + 1
    return None


def spike_recovery(
    samples: pd.DataFrame | dict[tuple[int, int], SecondsTally], stages: tuple[StageResult, ...]
) -> SpikeRecovery:
    """The recovery time after the run's spike (see the module's rule).

    ``samples`` are the run's samples, or the finished tallies of its ``spike_ranges``.
    """

    def seconds(
        from_us: int, to_us: int, p99: float, errors: float
    ) -> tuple[SecondAfterSpike, ...]:
        if isinstance(samples, dict):
            return judge_seconds(samples[(from_us, to_us)], p99, errors)
        return seconds_after(samples, from_us, to_us, p99, errors)

    i = find_spike(stages)
    if i is None:
        reason = "no spike: no stage has a higher rate than the stages right before and after it"
        return SpikeRecovery(math.nan, reason)
    base, spike, after = stages[i - 1], stages[i], stages[i + 1]
    found = SpikeRecovery(
        math.nan,
        spike_index=spike.index,
        spike_rps=max(spike.start_rps, spike.end_rps),
        baseline_rps=base.end_rps,
        spike_end_us=spike.end_us,
        spike_met=spike.met,
    )
    before = seconds(base.measured_start_us, base.end_us, math.inf, math.inf)
    p99s = [b.p99_ms for b in before if b.requests]
    if not p99s or base.requests == 0:
        reason = (
            f"the stage before the spike (stage {base.index + 1}) has no whole second "
            "of requests after settling"
        )
        return replace(found, reason=reason)
    baseline_p99 = max(p99s)
    p99_limit = max(P99_FACTOR * baseline_p99, baseline_p99 + P99_SLACK_MS)
    error_limit = max(ERROR_FACTOR * base.error_percent, base.error_percent + ERROR_SLACK_PERCENT)
    after_spike = seconds(spike.end_us, after.end_us, p99_limit, error_limit)
    found = replace(
        found,
        baseline_p99_ms=baseline_p99,
        baseline_error_percent=base.error_percent,
        p99_limit_ms=p99_limit,
        error_limit_percent=error_limit,
        observed_s=len(after_spike),
        seconds=after_spike[:MAX_SECONDS_KEPT],
    )
    if len(after_spike) < SUSTAIN_S:
        reason = (
            f"the stage after the spike has {len(after_spike)} whole second(s); "
            f"{SUSTAIN_S} are needed to see a sustained recovery"
        )
        return replace(found, reason=reason)
    k = first_sustained([s.within for s in after_spike])
    if k is None:
        reason = f"did not recover within the {len(after_spike)} s after the spike"
        return replace(found, recovery_s=math.inf, reason=reason)
    return replace(found, recovery_s=float(k))


__all__ = [
    "ERROR_FACTOR",
    "ERROR_SLACK_PERCENT",
    "P99_FACTOR",
    "P99_SLACK_MS",
    "SUSTAIN_S",
    "SecondAfterSpike",
    "SpikeRecovery",
    "find_spike",
    "first_sustained",
    "judge_seconds",
    "seconds_after",
    "seconds_tally",
    "spike_ranges",
    "spike_recovery",
]
