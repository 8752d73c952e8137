"""The compared metrics: unit, direction, default tolerance, exact value and resampled units.

Latency (P50, P95, P99, P99.9) is the response time of every request intended in the judged
window, from its intended send (as ``summary.json``'s ``latency_ms``); TTFT the same for streamed
requests that received a token; the error rate the failed share of those requests (%); the
request rate the requests intended in the window per second; memory and CPU the mean of the
server series' points in the window (where both runs have them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from analysis.compare.bootstrap import QuantileUnits, RatioUnits, Units
from analysis.compare.judging import Tolerance
from analysis.compare.seconds import Distribution, RunSeconds
from analysis.measuring.tally import US_PER_MS, nearest_rank_index


@dataclass(frozen=True)
class MetricSpec:
    name: str
    label: str
    unit: str
    tolerance: Tolerance
    family: str  # latency | ttft | errors | rate | memory_bytes | cpu_percent
    quantile: Fraction | None = None
    higher_is_worse: bool = True

    @property
    def optional(self) -> bool:
        """Left out when neither run has it (TTFT of runs that stream nothing, server series)."""
        return self.family not in ("latency", "errors", "rate")


# Default tolerances: the floors sit above the drift between two runs of the same settings on a
# busy 2-core machine (200 req/s for 15 s on the stand-in: P50 2.1 ms, P95 2.5 ms, P99 4.9 ms
# apart, see docs/compare.md), so that such runs come out SAME while +10 ms is still WORSE.
METRICS = (
    MetricSpec("latency_p50_ms", "P50", "ms", Tolerance(0.25, 3.0), "latency", Fraction(1, 2)),
    MetricSpec("latency_p95_ms", "P95", "ms", Tolerance(0.25, 5.0), "latency", Fraction(19, 20)),
    MetricSpec("latency_p99_ms", "P99", "ms", Tolerance(0.30, 20.0), "latency", Fraction(99, 100)),
    MetricSpec(
        "latency_p999_ms", "P99.9", "ms", Tolerance(0.50, 50.0), "latency", Fraction(999, 1000)
    ),
    MetricSpec("error_rate", "error rate", "%", Tolerance(0.0, 0.5), "errors"),
    MetricSpec(
        "request_rate_rps", "rate", "req/s", Tolerance(0.05, 1.0), "rate", higher_is_worse=False
    ),
    MetricSpec("ttft_p50_ms", "TTFT P50", "ms", Tolerance(0.25, 3.0), "ttft", Fraction(1, 2)),
    MetricSpec("ttft_p95_ms", "TTFT P95", "ms", Tolerance(0.25, 5.0), "ttft", Fraction(19, 20)),
    MetricSpec("memory_mean_bytes", "memory", "bytes", Tolerance(0.10, 20e6), "memory_bytes"),
    MetricSpec("cpu_mean_percent", "CPU", "%", Tolerance(0.25, 10.0), "cpu_percent"),
)
METRIC_NAMES = tuple(m.name for m in METRICS)
# A quantile is judged only when each run has this many values beyond it: the bootstrap of a
# quantile that rests on fewer (P99.9 of 3,000 requests rests on 3) is not an interval.
MIN_TAIL = 10


def needed_values(spec: MetricSpec) -> int:
    """The values a run needs for ``spec`` to be judged (MIN_TAIL beyond a quantile, else 1)."""
    if spec.quantile is None or spec.quantile == 1:
        return 1
    return math.ceil(MIN_TAIL / (1 - spec.quantile))


def values_of(run: RunSeconds, spec: MetricSpec) -> int:
    """How many values the run has for ``spec``: requests, streamed requests or server points."""
    if spec.family in ("latency", "ttft"):
        return _distribution(run, spec).count
    if spec.family in ("errors", "rate"):
        return int(run.requests.sum())
    return len(run.server.get(spec.family, ((), ()))[1])


def exact_quantile_ms(distribution: Distribution, q: Fraction) -> float:
    """The nearest-rank ``q`` quantile of every value, in ms (NaN when there is none)."""
    cumulative = np.cumsum(distribution.counts)
    if not len(cumulative) or cumulative[-1] == 0:
        return math.nan
    rank = int(nearest_rank_index(int(cumulative[-1]), q))
    value = distribution.values_us[np.searchsorted(cumulative, rank, side="right")]
    return float(value) / US_PER_MS


def has_metric(run: RunSeconds, spec: MetricSpec) -> bool:
    return values_of(run, spec) > 0


def _distribution(run: RunSeconds, spec: MetricSpec) -> Distribution:
    return run.latency if spec.family == "latency" else run.ttft


def point_value(run: RunSeconds, spec: MetricSpec) -> float:
    """The metric over the whole window, exactly (NaN when the run lacks it)."""
    if not has_metric(run, spec):
        return math.nan
    if spec.quantile is not None:
        return exact_quantile_ms(_distribution(run, spec), spec.quantile)
    if spec.family == "errors":
        return 100.0 * float(run.errors.sum()) / float(run.requests.sum())
    if spec.family == "rate":
        return float(run.requests.sum()) / float(run.seconds_s.sum())
    return float(np.mean(run.server[spec.family][1]))


def _blocks(seconds: np.ndarray, block_s: int, n_blocks: int) -> np.ndarray:
    return np.minimum(seconds // block_s, n_blocks - 1)


def _per_block(values: np.ndarray, blocks: np.ndarray, n_blocks: int) -> np.ndarray:
    return np.bincount(blocks, weights=values.astype(np.float64), minlength=n_blocks)


def units_of(run: RunSeconds, spec: MetricSpec, block_s: int) -> Units:
    """The run's blocks of ``block_s`` seconds, summarised for resampling ``spec``."""
    n_blocks = math.ceil(run.seconds / block_s)
    per_second = _blocks(np.arange(run.seconds), block_s, n_blocks)
    if spec.quantile is not None:
        pairs = _distribution(run, spec).per_second
        units = QuantileUnits.from_pairs(
            _blocks(pairs.seconds, block_s, n_blocks), pairs.bins, pairs.counts, n_blocks
        )
        return QuantileUnits(units.counts, units.values / US_PER_MS)
    if spec.family == "errors":
        return RatioUnits(
            _per_block(run.errors, per_second, n_blocks),
            _per_block(run.requests, per_second, n_blocks),
            100.0,
        )
    if spec.family == "rate":
        return RatioUnits(
            _per_block(run.requests, per_second, n_blocks),
            _per_block(run.seconds_s, per_second, n_blocks),
        )
    seconds, values = run.server.get(spec.family, (np.empty(0, np.int64), np.empty(0)))
    blocks = _blocks(seconds, block_s, n_blocks)
    return RatioUnits(
        _per_block(values, blocks, n_blocks), _per_block(np.ones(len(values)), blocks, n_blocks)
    )


__all__ = [
    "METRICS",
    "METRIC_NAMES",
    "MIN_TAIL",
    "MetricSpec",
    "exact_quantile_ms",
    "has_metric",
    "needed_values",
    "point_value",
    "units_of",
    "values_of",
]
