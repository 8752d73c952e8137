"""Exact, mergeable summaries of request samples, so a run is measured part by part.

A ``Histogram`` is a multiset of numbers kept as its distinct values and their counts. Latencies
are integer microseconds, so a run of any length has few distinct values (a few hundred thousand
at most in practice, one per µs of the spread) while its requests grow without bound: memory
follows the spread, not the run. The nearest-rank value of rank ``i`` is the value whose
cumulative count first exceeds ``i``, exactly the ``i``-th element of the sorted samples, so the
percentiles are identical to sorting every sample (HdrHistogram-style buckets would round them).

A ``Tally`` holds named counters, histograms and category counts; each measurement adds a
block of samples to it and reads its figures at the end. These are the one mutable objects of
the measurements: accumulating is what keeps memory bounded.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

US_PER_MS = 1000.0
QUANTILES: dict[str, Fraction] = {
    "p50": Fraction(1, 2),
    "p90": Fraction(9, 10),
    "p95": Fraction(19, 20),
    "p99": Fraction(99, 100),
    "p999": Fraction(999, 1000),
    "max": Fraction(1),
}
_COMPACT_VALUES = 1 << 20  # pending values folded into the distinct ones beyond this many


@dataclass(frozen=True)
class Percentiles:
    """Nearest-rank percentiles of ``count`` values, in milliseconds (NaN when count is 0)."""

    count: int = 0
    values_ms: dict[str, float] = field(default_factory=dict)

    def get(self, name: str) -> float:
        return self.values_ms.get(name, math.nan)

    def as_dict(self) -> dict[str, float]:
        return {name: self.get(name) for name in QUANTILES}


def nearest_rank_index(counts: np.ndarray | int, q: Fraction) -> np.ndarray:
    """0-based index of the nearest-rank ``q`` quantile in sorted groups of ``counts`` (>= 1).

    Integer arithmetic (rank = ceil(q * n)) so that, e.g., p99 of 1000 values is exactly the 990th.
    """
    counts = np.asarray(counts, dtype=np.int64)
    rank = (q.numerator * counts + q.denominator - 1) // q.denominator
    return np.maximum(rank, 1) - 1


class Histogram:
    """Exact counts of distinct values (int64 µs, or float64); ``add`` blocks, read ranks."""

    def __init__(self) -> None:
        self._values = np.empty(0, dtype=np.int64)
        self._counts = np.empty(0, dtype=np.int64)
        self._pending: list[np.ndarray] = []
        self._pending_n = 0

    def add(self, values: np.ndarray) -> None:
        """Add every element of ``values`` (NaN included, if the caller passes any)."""
        if len(values):
            self._pending.append(np.asarray(values))
            self._pending_n += len(values)
            if self._pending_n >= _COMPACT_VALUES:
                self._compact()

    def merge(self, other: Histogram) -> None:
        """Add every value ``other`` holds."""
        values, counts = other.distinct()
        self._fold(values, counts)

    def _compact(self) -> None:
        if self._pending:
            values, counts = np.unique(np.concatenate(self._pending), return_counts=True)
            self._pending, self._pending_n = [], 0
            self._fold(values, counts.astype(np.int64))

    def _fold(self, values: np.ndarray, counts: np.ndarray) -> None:
        if not len(values):
            return
        if not len(self._values):
            self._values, self._counts = values, counts
            return
        both = np.concatenate([self._values, values])
        merged, inverse = np.unique(both, return_inverse=True)
        weights = np.concatenate([self._counts, counts]).astype(np.float64)  # exact below 2**53
        total = np.bincount(inverse.ravel(), weights=weights, minlength=len(merged))
        self._values, self._counts = merged, total.astype(np.int64)

    def distinct(self) -> tuple[np.ndarray, np.ndarray]:
        """(ascending distinct values, their counts)."""
        self._compact()
        return self._values, self._counts

    @property
    def count(self) -> int:
        return int(self.distinct()[1].sum())

    def at(self, ranks: np.ndarray | int) -> np.ndarray:
        """The values at 0-based ``ranks`` of the ascending samples."""
        values, counts = self.distinct()
        cumulative = np.cumsum(counts)
        return values[np.searchsorted(cumulative, np.asarray(ranks), side="right")]

    def percentiles_ms(self, names: tuple[str, ...] = tuple(QUANTILES)) -> Percentiles:
        """Nearest-rank percentiles in ms, as ``client.percentiles_ms`` of the sorted samples."""
        return Percentiles(self.count, self.quantiles(names, US_PER_MS))

    def quantiles(
        self,
        names: tuple[str, ...],
        divisor: float = 1.0,
        table: dict[str, Fraction] = QUANTILES,
    ) -> dict[str, float]:
        """Nearest-rank quantiles ``names`` of ``table`` divided by ``divisor``; NaN when empty."""
        n = self.count
        if n == 0:
            return {name: math.nan for name in names}
        ranks = np.array([int(nearest_rank_index(n, table[name])) for name in names])
        return {name: float(v) / divisor for name, v in zip(names, self.at(ranks), strict=True)}


class Tally:
    """Named counters, exact histograms and category counts, filled block by block."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.categories: dict[str, Counter[str]] = {}
        self._histograms: dict[str, Histogram] = {}

    def add(self, name: str, n: int) -> None:
        self.counts[name] += int(n)

    def histogram(self, name: str) -> Histogram:
        """The histogram called ``name`` (an empty one the first time)."""
        if name not in self._histograms:
            self._histograms[name] = Histogram()
        return self._histograms[name]

    def values(self, name: str, values: np.ndarray) -> None:
        self.histogram(name).add(values)

    def category(self, name: str, counts: dict[str, int]) -> None:
        self.categories.setdefault(name, Counter()).update(counts)

    def percentiles_ms(self, name: str, names: tuple[str, ...] = tuple(QUANTILES)) -> Percentiles:
        return self.histogram(name).percentiles_ms(names)

    def has(self, name: str) -> bool:
        return name in self._histograms

    def names(self, prefix: str) -> list[str]:
        """The histogram names starting with ``prefix``, without it, sorted."""
        return sorted(n[len(prefix) :] for n in self._histograms if n.startswith(prefix))


__all__ = ["QUANTILES", "US_PER_MS", "Histogram", "Percentiles", "Tally", "nearest_rank_index"]
