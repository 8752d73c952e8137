"""One capacity probe judged: which targets hold at a varying rate, and a run's PASS/FAIL/UNJUDGED.

A probe is an ordinary run at one fixed rate. Its targets are the scenario's, less those that do
not make sense when the rate is the thing varied:

- ``request_rate_rps`` as a range (``800..1200`` written for a 1000 req/s scenario) scales with
  the probe's rate (``Scenario.rescaled_rate_target``): 80..120 % of what was scheduled, so a
  target that cannot keep up with the offered rate fails. In any other form it is left out.
- the load-shape metrics (``knee_rps``, ``spike_recovery_s``, ``memory_growth_mb_per_h``) need a
  staged or long run and are left out.

The probe fails when a target fails or when the target is over-saturated: requests due that
were never sent because the concurrency cap stayed full (``not_sent``), or a queue that grows
through the probe (``queue_rise``: the median response time of the judged window's last quarter
is more than ``RISE_FACTOR`` times that of its first quarter and higher by more than
``RISE_SHARE`` of the tightest latency target): latency that climbs for as long as the load lasts
is not sustainable, even where a short probe's percentiles still pass. It is UNJUDGED when the
generator itself sent late (send lag P99 above ``MAX_SEND_LAG_P99_MS`` with no wait for the
concurrency cap: a pause of the generator, whose burst of late requests would queue at the
target and decide the verdict), or when no target failed but the harness could not judge one
(NO DATA, the generator's own pauses). The search runs an UNJUDGED probe again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.capacity.search import FAIL, PASS, UNJUDGED, Trial
from analysis.contract.statuses import FAIL as ROW_FAIL
from analysis.contract.statuses import INTERRUPTED, NO_DATA
from analysis.contract.statuses import PASS as ROW_PASS
from analysis.contract.targets import Target
from analysis.judging.result import RunResult, VerdictRecord

RATE_METRIC = "request_rate_rps"
SHAPE_METRICS = ("knee_rps", "spike_recovery_s", "memory_growth_mb_per_h")
MAX_SEND_LAG_P99_MS = 20.0  # a generator this late is the limit, not the target
RISE_FACTOR = 2.0
RISE_SHARE = 0.25
RISE_FLOOR_MS = 5.0  # the rise that counts when no latency target is set
LATENCY_METRICS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")


@dataclass(frozen=True)
class QueueRise:
    """Median response times (ms) of the first and last quarter of the judged window."""

    first_ms: float
    last_ms: float

    def rising(self, limit_ms: float) -> bool:
        """Whether the last quarter is ``RISE_FACTOR`` times slower and ``limit_ms`` later."""
        grew = self.last_ms - self.first_ms
        return self.last_ms > RISE_FACTOR * self.first_ms and grew > limit_ms


def queue_rise(samples: pd.DataFrame, start_us: int, end_us: int) -> QueueRise:
    """The medians of ``response_us`` by quarter of [start_us, end_us) in intended time."""
    intended = samples["intended_us"].to_numpy()
    response_ms = samples["response_us"].to_numpy() / 1000.0
    quarter = (end_us - start_us) / 4

    def median(low: float, high: float) -> float:
        inside = response_ms[(intended >= low) & (intended < high)]
        return float(np.median(inside)) if len(inside) else math.nan

    return QueueRise(median(start_us, start_us + quarter), median(end_us - quarter, end_us))


def rise_limit_ms(targets: dict[str, str]) -> float:
    """How much later the last quarter may be: ``RISE_SHARE`` of the tightest latency bound."""
    bounds = [Target.parse(targets[m]).value for m in LATENCY_METRICS if m in targets]
    return RISE_SHARE * min(bounds) if bounds else RISE_FLOOR_MS


def probe_targets(targets: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The targets a probe is judged on, and a note for each left out (see the docstring)."""
    kept, notes = {}, []
    for metric, text in targets.items():
        if metric in SHAPE_METRICS:
            notes.append(f"{metric} {text} is left out: it needs a staged or long run")
        elif metric == RATE_METRIC and Target.parse(text).op != "range":
            notes.append(f"{metric} {text} is left out: only a range scales with the probe's rate")
        else:
            kept[metric] = text
    return kept, notes


def relative_margin(verdict: VerdictRecord) -> float:
    """The verdict's margin over the bound it is nearest to (0.2: 20 % inside; NaN: none)."""
    if verdict.margin is None or verdict.measured is None:
        return math.nan
    target = Target.parse(verdict.target)
    bound = target.value
    if target.op == "range" and abs(verdict.measured - target.high) < abs(
        verdict.measured - target.value
    ):
        bound = target.high
    return float(verdict.margin) / abs(bound) if bound else float(verdict.margin)


def _missed(verdict: VerdictRecord) -> str:
    measured = "no value" if verdict.measured is None else f"{verdict.measured:.4g}"
    unit = f" {verdict.unit}" if verdict.unit and verdict.measured is not None else ""
    return f"{verdict.metric} {measured}{unit}, target {verdict.target}"


def judge_probe(
    result: RunResult, run_dir: str = "", rise: QueueRise | None = None, limit_ms: float = 0
) -> Trial:
    """A probe run's verdict for the search, its smallest relative margin and the reasons.

    Raises ValueError for an interrupted run: the search stops rather than judge part of one.
    """
    if result.status == INTERRUPTED:
        raise ValueError(f"the probe run {run_dir or result.scenario} was interrupted")
    rows = [v for v in result.verdicts if v.status in (ROW_PASS, ROW_FAIL)]
    margins = [m for m in map(relative_margin, rows) if not math.isnan(m)]
    reasons = [_missed(v) for v in result.verdicts if v.status == ROW_FAIL]
    m = result.measurements
    not_sent = int(m.not_sent or 0)
    if not_sent > 0:
        due = not_sent + int(m.requests or 0)
        cap = m.generator.max_concurrency
        cap_text = f" ({cap:g} in flight)" if isinstance(cap, int | float) else ""
        reasons.append(
            f"{not_sent:,} of {due:,} requests due were never sent: the concurrency cap"
            f"{cap_text} stayed full, the target is queueing"
        )
        margins.append(-not_sent / due)
    if rise is not None and rise.rising(limit_ms):
        reasons.append(
            f"the queue grew through the probe: median response {rise.first_ms:.1f} ms in its "
            f"first quarter, {rise.last_ms:.1f} ms in its last"
        )
        margins.append(-(rise.last_ms - rise.first_ms) / max(rise.last_ms, 1e-9))
    margin = min(margins) if margins else math.nan
    lag = m.send_lag_ms.p99
    lag_ms = float(lag) if isinstance(lag, int | float) else 0.0
    # A late generator sends in bursts that queue at the target too: only a wait for the
    # concurrency cap (the target's doing) lets a FAIL stand beside it.
    if lag_ms > MAX_SEND_LAG_P99_MS and not_sent == 0 and not m.generator.cap_waits:
        why = (
            f"the generator sent late (send lag P99 {lag_ms:.1f} ms > "
            f"{MAX_SEND_LAG_P99_MS:g} ms), so the probe did not offer its rate evenly"
        )
        return Trial(UNJUDGED, margin, (why, *reasons), run_dir)
    if reasons:
        return Trial(FAIL, margin, tuple(reasons), run_dir)
    unjudged = [
        f"{v.metric}: {v.reason or 'no data'}" for v in result.verdicts if v.status == NO_DATA
    ]
    if unjudged or not rows:
        return Trial(UNJUDGED, margin, tuple(unjudged or ["no target was judged"]), run_dir)
    return Trial(PASS, margin, (), run_dir)


__all__ = [
    "MAX_SEND_LAG_P99_MS",
    "QueueRise",
    "queue_rise",
    "rise_limit_ms",
    "RATE_METRIC",
    "SHAPE_METRICS",
    "judge_probe",
    "probe_targets",
    "relative_margin",
]
