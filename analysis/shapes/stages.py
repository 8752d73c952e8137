"""Per-stage measurements of a multi-stage run, each stage judged on the latency and error targets.

A stage's measured part leaves out its first seconds as settling: ``settle_s(duration)`` is
``min(SETTLE_MAX_S, SETTLE_SHARE × duration)`` (5 s of a 30 s step, 0.6 s of a 3 s one), so a
step is judged on what the target does at that rate, not on the change from the rate before.
Requests belong to the stage their *intended* send time falls in; the achieved rate counts
requests *sent* in the measured part (as the whole-run rate does). Percentiles are nearest-rank
response times from the intended send time, in ms. A stage with no requests has NaN figures and
``met`` None, never a PASS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.contract.schema import STAGE_TARGET_METRICS
from analysis.contract.targets import Target
from analysis.measuring.client import US_PER_S, failed_mask
from analysis.measuring.tally import Tally

SETTLE_MAX_S = 5.0
SETTLE_SHARE = 0.2
# The targets a stage can be held to, with the label a reason uses.
_LABELS = {
    "latency_p50_ms": "P50",
    "latency_p95_ms": "P95",
    "latency_p99_ms": "P99",
    "error_rate": "error rate",
}
STAGE_METRICS = {metric: _LABELS[metric] for metric in STAGE_TARGET_METRICS}


@dataclass(frozen=True)
class StageResult:
    """One stage: its schedule (µs, req/s) and what its measured part (after settling) showed.

    ``error_percent`` is errors / requests × 100; ``met`` is None when there was nothing to judge
    (no requests, or no stage targets), and ``missed`` names each target the stage missed.
    """

    index: int
    start_us: int
    end_us: int
    start_rps: float
    end_rps: float
    judge: bool
    settle_s: float
    offered_rps: float
    achieved_rps: float
    requests: int
    errors: int
    error_percent: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    met: bool | None
    missed: tuple[str, ...] = ()
    reason: str = ""

    @property
    def duration_s(self) -> float:
        return (self.end_us - self.start_us) / US_PER_S

    @property
    def measured_start_us(self) -> int:
        return self.start_us + int(round(self.settle_s * US_PER_S))

    @property
    def constant(self) -> bool:
        """A step: the scheduled rate stays the same for the whole stage."""
        return self.start_rps == self.end_rps

    def value(self, metric: str) -> float:
        """The figure a stage target of ``metric`` (one of ``STAGE_METRICS``) is judged on."""
        return {
            "latency_p50_ms": self.p50_ms,
            "latency_p95_ms": self.p95_ms,
            "latency_p99_ms": self.p99_ms,
            "error_rate": self.error_percent,
        }[metric]


def settle_s(duration_s: float) -> float:
    """Seconds at the start of a stage left out of its measurements."""
    return min(SETTLE_MAX_S, SETTLE_SHARE * duration_s)


def stage_targets(raw: Any, targets: dict[str, Target]) -> dict[str, Target]:
    """What each stage is held to: the scenario's ``stage_targets`` when it has any, else its
    ``targets`` of the ``STAGE_METRICS``. Raises ValueError (naming the field) on a bad entry."""
    if not raw:
        return {m: t for m, t in targets.items() if m in STAGE_METRICS}
    if not isinstance(raw, dict):
        raise ValueError("stage_targets: expected a mapping of metric name to target text")
    parsed: dict[str, Target] = {}
    for metric, text in raw.items():
        if metric not in STAGE_METRICS:
            raise ValueError(
                f"stage_targets.{metric}: not a stage metric; known: {list(STAGE_METRICS)}"
            )
        try:
            parsed[str(metric)] = Target.parse(text)
        except ValueError as exc:
            raise ValueError(f"stage_targets.{metric}: {exc}") from None
    return parsed


def judge_stage(stage: StageResult, criteria: dict[str, Target]) -> StageResult:
    """``stage`` with ``met`` and ``missed`` set from ``criteria`` (see ``stage_targets``).

    A stage marked ``judge: false`` (a ramp) is measured but not judged: ``met`` None."""
    if not stage.judge:
        return replace(stage, met=None, missed=(), reason="not judged (judge: false)")
    if stage.requests == 0:
        return replace(stage, met=None, missed=(), reason="no requests in the measured part")
    if not criteria:
        return replace(stage, met=None, missed=(), reason="no latency or error targets")
    missed = []
    for metric, target in criteria.items():
        value = stage.value(metric)
        if not target.met_by(value):
            unit = "%" if metric == "error_rate" else "ms"
            missed.append(f"{STAGE_METRICS[metric]} {value:.3f} {unit} (target {target.text})")
    return replace(stage, met=not missed, missed=tuple(missed), reason="")


def failed_flags(samples: pd.DataFrame) -> np.ndarray:
    """True where the request failed; categorical (as read) or plain ``error`` columns."""
    if isinstance(samples["error"].dtype, pd.CategoricalDtype):
        return failed_mask(samples)
    return np.asarray(samples["error"].astype(str).to_numpy() != "")


def _offered_rps(start_rps: float, end_rps: float, settle: float, duration: float) -> float:
    """Mean scheduled rate over the measured part of a linear stage."""
    if duration <= 0:
        return start_rps
    return start_rps + (end_rps - start_rps) * (settle + duration) / (2.0 * duration)


def _plan(stages: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any], int, int]]:
    """(position, stage, measured start µs, end µs) of each stage with a start and an end."""
    out = []
    for i, stage in enumerate(stages):
        start, end = stage.get("start_us"), stage.get("end_us")
        if start is None or end is None or end <= start:
            continue
        begin = start + int(round(settle_s((end - start) / US_PER_S) * US_PER_S))
        out.append((i, stage, int(begin), int(end)))
    return out


def tally_stages(samples: pd.DataFrame, stages: list[dict[str, Any]], t: Tally) -> None:
    """Add one block to what ``stages_from`` reads."""
    intended = samples["intended_us"].to_numpy()
    sent = samples["sent_us"].to_numpy()
    response = samples["done_us"].to_numpy() - intended
    failed = failed_flags(samples)
    for i, _, begin, end in _plan(stages):
        rows = (intended >= begin) & (intended < end)
        t.add(f"stage_requests:{i}", int(rows.sum()))
        t.add(f"stage_errors:{i}", int((rows & failed).sum()))
        t.add(f"stage_sent:{i}", int(((sent >= begin) & (sent < end)).sum()))
        t.values(f"stage:{i}", response[rows])


def measure_stages(
    samples: pd.DataFrame, stages: list[dict[str, Any]], criteria: dict[str, Target]
) -> tuple[StageResult, ...]:
    """Every stage of ``stages`` (metadata ``load.stages``) measured and judged on ``criteria``.

    Stages lacking ``start_us``/``end_us`` are left out.
    """
    t = Tally()
    tally_stages(samples, stages, t)
    return stages_from(t, stages, criteria)


def stages_from(
    t: Tally, stages: list[dict[str, Any]], criteria: dict[str, Target]
) -> tuple[StageResult, ...]:
    """The stages measured from the blocks added to ``t`` by ``tally_stages``."""
    results = []
    for i, stage, begin, end in _plan(stages):
        start = int(stage["start_us"])
        first, last = stage.get("start_rps"), stage.get("end_rps")
        known = [float(r) for r in (first, last) if r is not None] or [math.nan]
        start_rps = known[0] if first is not None else known[-1]
        end_rps = known[-1]
        duration = (end - start) / US_PER_S
        settle = settle_s(duration)
        requests = t.counts[f"stage_requests:{i}"]
        errors = t.counts[f"stage_errors:{i}"]
        pct = t.percentiles_ms(f"stage:{i}", ("p50", "p95", "p99"))
        measured_s = (end - begin) / US_PER_S
        achieved = t.counts[f"stage_sent:{i}"] / measured_s
        result = StageResult(
            index=i,
            start_us=start,
            end_us=int(end),
            start_rps=start_rps,
            end_rps=end_rps,
            judge=bool(stage.get("judge", True)),
            settle_s=settle,
            offered_rps=_offered_rps(start_rps, end_rps, settle, duration),
            achieved_rps=achieved,
            requests=requests,
            errors=errors,
            error_percent=100.0 * errors / requests if requests else math.nan,
            p50_ms=pct.get("p50"),
            p95_ms=pct.get("p95"),
            p99_ms=pct.get("p99"),
            met=None,
        )
        results.append(judge_stage(result, criteria))
    return tuple(results)


__all__ = [
    "SETTLE_MAX_S",
    "SETTLE_SHARE",
    "STAGE_METRICS",
    "StageResult",
    "failed_flags",
    "judge_stage",
    "measure_stages",
    "settle_s",
    "stages_from",
    "stage_targets",
    "tally_stages",
]
