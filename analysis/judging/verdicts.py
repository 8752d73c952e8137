"""Judge measurements against the scenario's targets; overall status, exit code, self-checks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from analysis.contract.schema import VERDICT_METRICS, VERDICT_UNITS
from analysis.contract.statuses import (
    FAIL,
    INCOMPLETE,
    INTERRUPTED,
    NO_DATA,
    PASS,
    exit_code,
)
from analysis.contract.targets import Target
from analysis.measuring.client import ClientMeasurements, Measured
from analysis.measuring.serverside import ServerMeasurements
from analysis.measuring.stalls import StallAttribution

MAX_SEND_LAG_P99_MS = 1.0
MAX_GENERATOR_CPU_SHARE = 0.8  # of one core, per generator worker
# Latency verdicts the generator's own pauses can decide, and the percentile each judges.
STALL_JUDGED = {"latency_p50_ms": "p50", "latency_p95_ms": "p95", "latency_p99_ms": "p99"}


@dataclass(frozen=True)
class Verdict:
    """One target judged: ``measured`` and ``margin`` (signed, positive when met) in ``unit``."""

    metric: str
    target: str
    measured: float | None
    unit: str
    status: str
    margin: float | None = None
    source: str = ""
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdict_measurements(
    client: ClientMeasurements, server: ServerMeasurements
) -> dict[str, Measured]:
    """The measurement each verdict metric is judged on, in the unit of ``VERDICT_UNITS``."""
    source = f"client samples, {client.requests:,} requests in steady window"
    reason = client.reason

    def latency(name: str) -> Measured:
        return Measured(client.response.get(name), source, reason)

    ratio = client.error_ratio
    return {
        "request_rate_rps": client.rate_rps,
        "latency_p50_ms": latency("p50"),
        "latency_p95_ms": latency("p95"),
        "latency_p99_ms": latency("p99"),
        "error_rate": Measured(ratio.value * 100.0, ratio.source, ratio.reason),
        "memory_bytes": server.memory_max_bytes,
        "cpu_percent": server.cpu_mean_percent,
        "otlp_export_success": server.otlp_success_percent,
    }


def judge_one(metric: str, target: Target, measured: Measured | None) -> Verdict:
    """PASS or FAIL when there is a value, NO DATA (with a reason) when there is none."""
    unit = VERDICT_UNITS.get(metric, "")
    if measured is None:
        reason = "no measurement is defined for this metric"
        return Verdict(metric, target.text, None, unit, NO_DATA, reason=reason)
    if math.isnan(measured.value):
        reason = measured.reason or "the measurement could not be computed"
        return Verdict(metric, target.text, None, unit, NO_DATA, None, measured.source, reason)
    status = PASS if target.met_by(measured.value) else FAIL
    margin = target.margin(measured.value)
    # An infinite value (e.g. "did not recover") is shown empty, so it keeps its reason.
    reason = "" if math.isfinite(measured.value) else measured.reason
    return Verdict(
        metric, target.text, measured.value, unit, status, margin, measured.source, reason
    )


def judge(targets: dict[str, Target], measurements: dict[str, Measured]) -> list[Verdict]:
    """One verdict a target: the known metrics in ``VERDICT_METRICS`` order, then the others."""
    order = {metric: i for i, metric in enumerate(VERDICT_METRICS)}
    metrics = sorted(targets, key=lambda m: order.get(m, len(order)))
    return [judge_one(metric, targets[metric], measurements.get(metric)) for metric in metrics]


def stall_decided(
    verdicts: list[Verdict], targets: dict[str, Target], stalls: StallAttribution
) -> list[Verdict]:
    """Latency FAILs that the generator's own stalls decide become NO DATA, with the reason.

    Such a verdict fails as measured but would pass with what the stalls can have added to each
    request taken out (``StallAttribution``):
    it is not the target's FAIL, the harness could not judge it (the run is INCOMPLETE). A
    verdict that passes anyway, or fails either way, stays as it is; ``measured`` is kept.
    """
    out = []
    for verdict in verdicts:
        name, target = STALL_JUDGED.get(verdict.metric), targets.get(verdict.metric)
        clean = stalls.without.get(name) if name and stalls.delayed else math.nan
        if (
            verdict.status != FAIL
            or target is None
            or math.isnan(clean)
            or not target.met_by(clean)
        ):
            out.append(verdict)
            continue
        reason = (
            f"the generator's own pauses decide {verdict.metric}: {verdict.measured:.3f} ms "
            f"measured, {clean:.3f} ms without what its {stalls.episodes} stall(s) added to "
            f"{stalls.delayed:,} requests"
        )
        out.append(replace(verdict, status=NO_DATA, reason=reason))
    return out


def overall_status(verdicts: list[Verdict], outcome: str, problems: Sequence[str] = ()) -> str:
    """INTERRUPTED for an interrupted run, else FAIL over INCOMPLETE over PASS.

    INCOMPLETE: a NO DATA row (also a latency verdict the generator's own stalls decide, see
    ``stall_decided``), or ``problems`` (server-side queries or samplers that failed, so
    the run's record is incomplete even where no target needed them).
    """
    if outcome == "interrupted":
        return INTERRUPTED
    # Stopped for outliving its schedule, or a worker was lost mid-run: what was measured is not
    # the planned load, so never a PASS or a FAIL.
    if outcome in ("watchdog", "worker_lost"):
        return INCOMPLETE
    statuses = {v.status for v in verdicts}
    if FAIL in statuses:
        return FAIL
    if NO_DATA in statuses or problems:
        return INCOMPLETE
    return PASS


def _ratio(cpu_s: Any, wall_s: Any) -> float | None:
    numbers = isinstance(cpu_s, int | float) and isinstance(wall_s, int | float)
    if not numbers or isinstance(cpu_s, bool) or wall_s <= 0:
        return None
    return float(cpu_s) / float(wall_s)


def generator_warnings(metadata: dict[str, Any], client: ClientMeasurements) -> list[str]:
    """Signs that the load generator, not the target, limited the run."""
    warnings: list[str] = []
    lag_p99 = client.lag.get("p99")
    if not math.isnan(lag_p99) and lag_p99 > MAX_SEND_LAG_P99_MS:
        warnings.append(
            "the generator, not the target, may have been the bottleneck: "
            f"send lag p99 {lag_p99:.3f} ms (should stay under {MAX_SEND_LAG_P99_MS:g} ms)"
        )
    generator = metadata.get("generator") or {}
    workers: list[Any] = generator.get("workers") or []
    if not isinstance(workers, list):
        workers = []
    shares = [
        (i, _ratio(w.get("cpu_s"), w.get("wall_s")))
        for i, w in enumerate(workers)
        if isinstance(w, dict)
    ]
    busy = [
        (i, share) for i, share in shares if share is not None and share > MAX_GENERATOR_CPU_SHARE
    ]
    for i, share in busy:
        warnings.append(
            f"generator worker {i} was busy {share:.0%} of the time (CPU-bound above 80%)"
        )
    total = _ratio(generator.get("cpu_s"), generator.get("wall_s"))
    count = max(int((metadata.get("load") or {}).get("workers") or 0), len(workers), 1)
    if not busy and total is not None and total / count > MAX_GENERATOR_CPU_SHARE:
        warnings.append(
            f"the generator used {total / count:.0%} of a core per worker "
            f"({generator['cpu_s']:.1f} CPU s in {generator['wall_s']:.1f} s, {count} worker(s)): "
            "it may have been CPU-bound"
        )
    cap_waits = generator.get("cap_waits")
    if cap_waits:
        cap = generator.get("max_concurrency")
        limit = f" (max_concurrency {cap})" if cap else ""
        warnings.append(
            f"requests waited {cap_waits:,} time(s) for a free slot at the concurrency cap{limit}: "
            "the target was too slow for the schedule, or the cap too low"
        )
    warnings.extend(f"note: {note}" for note in metadata.get("notes") or [])
    return warnings


def run_warnings(
    metadata: dict[str, Any],
    client: ClientMeasurements,
    targets: dict[str, Target],
    problems: Sequence[str] = (),
) -> list[str]:
    """Everything a reader must know before trusting the verdicts."""
    warnings = [f"server-side data is incomplete (the run cannot be PASS): {p}" for p in problems]
    outcome = metadata.get("outcome", "unknown")
    if outcome == "interrupted":
        warnings.append("the run was interrupted: the verdicts judge a partial run")
    elif outcome != "completed":
        warnings.append(f"the run's outcome is {outcome!r}, not 'completed'")
    if client.window is not None and not client.window.source.startswith("metadata load.judge"):
        warnings.append(f"judged window taken from {client.window.source}")
    if not targets:
        warnings.append("the scenario has no targets: nothing was judged")
    if client.negative_service:
        warnings.append(
            f"{client.negative_service:,} sample(s) finished before they were sent "
            "(done_us < sent_us): the samples may be corrupt"
        )
    return warnings + saturation_warnings(metadata, client) + generator_warnings(metadata, client)


def saturation_warnings(metadata: dict[str, Any], client: ClientMeasurements) -> list[str]:
    """Whether the offered rate was kept in a constant-rate judged window, and if not, why."""
    load = metadata.get("load") or {}
    judged = [s for s in load.get("stages") or [] if s.get("judge")]
    constant = judged and all(s.get("start_rps") == s.get("end_rps") for s in judged)
    offered = load.get("rate_rps")
    sent = client.rate_rps.value
    if not constant or not offered or math.isnan(sent) or sent >= 0.95 * offered:
        return []
    if (metadata.get("generator") or {}).get("cap_waits"):
        cause = "the target could not sustain it: the concurrency cap stayed full"
    else:
        cause = "the generator fell behind its schedule (see send lag and generator CPU)"
    return [f"the offered rate was not kept: {sent:.1f} of {offered:g} req/s were sent in the "
            f"steady window; {cause}"]  # fmt: skip


__all__ = [
    "FAIL",
    "INCOMPLETE",
    "INTERRUPTED",
    "NO_DATA",
    "PASS",
    "Verdict",
    "exit_code",
    "generator_warnings",
    "judge",
    "judge_one",
    "overall_status",
    "run_warnings",
    "stall_decided",
    "verdict_measurements",
]
