"""Two runs of one scenario compared: per metric A, B, B − A with its interval, and a verdict.

A is the baseline, B the candidate. Runs of different scenarios (name) or load shapes (rate,
arrival, ramp, duration, stages) are refused: their differences are the load's, not the
system's. The exit code gates CI: 1 when any metric is WORSE, 0 otherwise, 2 when nothing could
be judged (and for refused or unreadable runs, raised as errors).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.compare.bootstrap import RESAMPLES, SEED, block_seconds, delta_interval
from analysis.compare.judging import (
    NO_DATA,
    WORSE,
    Tolerance,
    ToleranceError,
    judge_delta,
    overall_verdict,
)
from analysis.compare.metrics import (
    METRIC_NAMES,
    METRICS,
    MIN_TAIL,
    MetricSpec,
    has_metric,
    needed_values,
    point_value,
    units_of,
    values_of,
)
from analysis.compare.seconds import RunSeconds, read_seconds, scenario_identity
from analysis.contract.statuses import EXIT_CANNOT_JUDGE, EXIT_FAIL, EXIT_PASS
from analysis.reading.rundir import RunData, open_run


class CompareRefused(ValueError):
    """The two runs cannot be compared (different scenarios or load shapes): one sentence."""


@dataclass(frozen=True)
class MetricComparison:
    """One row: A, B, B − A, the interval of B − A, the tolerance and the verdict."""

    metric: str
    label: str
    unit: str
    a: float
    b: float
    delta: float
    low: float
    high: float
    tolerance: float
    tolerance_text: str
    higher_is_worse: bool
    verdict: str
    reason: str


@dataclass(frozen=True)
class Comparison:
    a: RunSeconds
    b: RunSeconds
    rows: tuple[MetricComparison, ...]
    verdict: str
    block_s: tuple[int, int]
    seed: int = SEED
    resamples: int = RESAMPLES

    @property
    def exit_code(self) -> int:
        if self.verdict == WORSE:
            return EXIT_FAIL
        return EXIT_CANNOT_JUDGE if self.verdict == NO_DATA else EXIT_PASS


def parse_tolerances(items: list[str] | tuple[str, ...]) -> dict[str, Tolerance]:
    """``METRIC=VALUE`` overrides; an unknown metric or a bad value is a ToleranceError."""
    out = {}
    for item in items:
        metric, sep, value = item.partition("=")
        metric = metric.strip()
        if not sep:
            raise ToleranceError(
                f"--tolerance {item!r}: expected METRIC=VALUE, e.g. latency_p99_ms=10%"
            )
        if metric not in METRIC_NAMES:
            raise ToleranceError(
                f"--tolerance {item!r}: unknown metric {metric!r}; one of {', '.join(METRIC_NAMES)}"
            )
        out[metric] = Tolerance.parse(value, f"--tolerance {metric}")
    return out


def _differences(a: dict[str, Any], b: dict[str, Any]) -> str:
    if a["name"] != b["name"]:
        return f"different scenarios ({a['name']} and {b['name']})"
    keys = sorted(set(a["load"]) | set(b["load"]))
    changed = [f"load.{k} {a['load'].get(k)} vs {b['load'].get(k)}" for k in keys
               if a["load"].get(k) != b["load"].get(k)]  # fmt: skip
    return f"different load shapes ({'; '.join(changed)})" if changed else ""


def check_identity(baseline: RunData, scenario: dict[str, Any], other: str) -> None:
    """Raise CompareRefused unless ``scenario`` is the baseline's scenario and load shape."""
    difference = _differences(scenario_identity(baseline.scenario), scenario_identity(scenario))
    if difference:
        raise CompareRefused(
            f"{baseline.run_dir} and {other} are runs of {difference}; compare two runs of one "
            "scenario and load shape"
        )


def check_comparable(a: RunData, b: RunData) -> None:
    """Raise CompareRefused unless both runs are of one scenario and load shape."""
    check_identity(a, b.scenario, str(b.run_dir))


def _missing(spec: MetricSpec, a: RunSeconds, b: RunSeconds) -> str:
    """Why ``spec`` cannot be judged on these runs ("" when it can)."""
    absent = [side for side, run in (("A", a), ("B", b)) if not has_metric(run, spec)]
    if absent:
        return f"{' and '.join(absent)} has no {spec.label} in its window"
    needed = needed_values(spec)
    few = [f"{side} has {values_of(run, spec):,}" for side, run in (("A", a), ("B", b))
           if values_of(run, spec) < needed]  # fmt: skip
    if few:
        return (
            f"too few values for {spec.label}: {' and '.join(few)}; it needs {needed:,} "
            f"({MIN_TAIL} beyond it)"
        )
    return ""


def _row(
    spec: MetricSpec,
    a: RunSeconds,
    b: RunSeconds,
    blocks: tuple[int, int],
    tolerance: Tolerance,
    seed: int,
    resamples: int,
) -> MetricComparison:
    va, vb = point_value(a, spec), point_value(b, spec)
    tol = tolerance.of(va)
    missing = _missing(spec, a, b)
    if missing:
        return MetricComparison(spec.name, spec.label, spec.unit, va, vb, vb - va, math.nan,
                                math.nan, tol, tolerance.text, spec.higher_is_worse, NO_DATA,
                                missing)  # fmt: skip
    interval = delta_interval(
        units_of(a, spec, blocks[0]),
        units_of(b, spec, blocks[1]),
        spec.quantile,
        seed=seed,
        resamples=resamples,
        exact_delta=vb - va,
    )
    verdict = judge_delta(interval, tol, spec.higher_is_worse)
    reason = (
        f"95 % interval of B − A [{interval.low:.4g}, {interval.high:.4g}] {spec.unit} "
        f"against ±{tol:.4g} {spec.unit}"
        if verdict != NO_DATA
        else "too few seconds with data to resample"
    )
    return MetricComparison(spec.name, spec.label, spec.unit, va, vb, vb - va, interval.low,
                            interval.high, tol, tolerance.text, spec.higher_is_worse, verdict,
                            reason)  # fmt: skip


def compare_seconds(
    a: RunSeconds,
    b: RunSeconds,
    tolerances: Mapping[str, Tolerance] | None = None,
    *,
    seed: int = SEED,
    resamples: int = RESAMPLES,
) -> Comparison:
    """Compare two runs' windows metric by metric (pure)."""
    tolerances = tolerances or {}
    blocks = (block_seconds(a.seconds), block_seconds(b.seconds))
    rows = tuple(
        _row(spec, a, b, blocks, tolerances.get(spec.name, spec.tolerance), seed, resamples)
        for spec in METRICS
        if not spec.optional or has_metric(a, spec) or has_metric(b, spec)
    )
    verdict = overall_verdict([r.verdict for r in rows])
    return Comparison(a, b, rows, verdict, blocks, seed, resamples)


def compare_runs(
    run_a: Path | str,
    run_b: Path | str,
    tolerances: Mapping[str, Tolerance] | None = None,
    *,
    seed: int = SEED,
) -> Comparison:
    """Read both run directories and compare them; RunDirError or CompareRefused when not."""
    a, b = open_run(run_a), open_run(run_b)
    check_comparable(a, b)
    return compare_seconds(read_seconds(a), read_seconds(b), tolerances, seed=seed)


__all__ = [
    "CompareRefused",
    "Comparison",
    "MetricComparison",
    "check_comparable",
    "check_identity",
    "compare_runs",
    "compare_seconds",
    "parse_tolerances",
]
