"""Block bootstrap over seconds: intervals of a run-to-run delta that autocorrelation cannot shrink.

Requests of one run are not independent: a slow second (a pause, a queue) slows every request in
it, so resampling requests one by one treats a burst of 200 correlated latencies as 200
independent draws and gives an interval far too narrow. The unit here is a block of whole seconds
of the judged window: each resample draws as many blocks as the run has, with replacement, and
takes every request (or server point) of the blocks drawn, so whatever is correlated within a
block stays together.

Block length: ``ceil(S ** (1/3))`` seconds for a window of S seconds (the usual n^(1/3) rate of
block-bootstrap theory), cut so that there are at least ``MIN_BLOCKS`` blocks: 1 s blocks for a
window of up to 19 s, 4 s for 60 s, 16 s for an hour. Blocks do not overlap (Carlstein's
bootstrap); the last one may be shorter.

A run is summarised per block: a quantile metric as counts over log-spaced bins 0.1 % wide
(``BIN_REL``), a ratio metric (error rate, request rate, a server mean) as a numerator and a
denominator. A resample is a vector of multiplicities over the blocks, so a statistic of R
resamples is one matrix product. The two runs are resampled independently (seeded); the
interval is the percentile interval of the R deltas B − A, its level expanded as
``analysis.overhead.stats.expanded_alpha`` does for few units (Hesterberg 2015), with the
smaller run's block count as the sample size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from analysis.measuring.tally import nearest_rank_index
from analysis.overhead.stats import CONFIDENCE, expanded_alpha

RESAMPLES = 2000
SEED = 0
MIN_BLOCKS = 10
BIN_REL = 0.001  # quantile bins are 0.1 % wide: far below any tolerance worth judging
_LOG_STEP = math.log1p(BIN_REL)
_CHUNK = 256  # resamples per matrix product, to bound memory


def block_seconds(seconds: int) -> int:
    """Seconds per block for a judged window of ``seconds`` whole seconds (see the docstring)."""
    if seconds <= 0:
        return 1
    rule = math.ceil(round(seconds ** (1 / 3), 9))
    return max(1, min(rule, seconds // MIN_BLOCKS))


def bin_of(values: np.ndarray) -> np.ndarray:
    """Log bin index of positive values (µs); values under 1 fall into bin 0."""
    clipped = np.maximum(np.asarray(values, dtype=np.float64), 1.0)
    return np.floor(np.log(clipped) / _LOG_STEP).astype(np.int64)


def bin_value(bins: np.ndarray) -> np.ndarray:
    """The value each bin stands for: its geometric middle."""
    return np.exp((np.asarray(bins, dtype=np.float64) + 0.5) * _LOG_STEP)


@dataclass(frozen=True)
class QuantileUnits:
    """Counts per block (rows) and bin (columns); ``values`` is what each column stands for."""

    counts: np.ndarray  # int64, blocks × bins
    values: np.ndarray  # float64, bins

    @property
    def blocks(self) -> int:
        return int(self.counts.shape[0])

    @staticmethod
    def from_pairs(blocks: np.ndarray, bins: np.ndarray, counts: np.ndarray, n_blocks: int):
        """From (block, bin, count) triples; only the bins that occur get a column."""
        used, column = np.unique(np.asarray(bins, dtype=np.int64), return_inverse=True)
        matrix = np.zeros((n_blocks, len(used)), dtype=np.int64)
        np.add.at(matrix, (np.asarray(blocks, dtype=np.int64), column.ravel()), counts)
        return QuantileUnits(matrix, bin_value(used))

    def statistic(self, weights: np.ndarray, q: Fraction) -> np.ndarray:
        """The nearest-rank ``q`` quantile of each resample (rows of ``weights``); NaN if empty."""
        out = np.full(len(weights), math.nan)
        if not self.counts.size:
            return out
        for start in range(0, len(weights), _CHUNK):
            w = weights[start : start + _CHUNK]
            cumulative = np.cumsum(w @ self.counts, axis=1)
            n = cumulative[:, -1]
            rank = nearest_rank_index(np.maximum(n, 1), q)
            column = (cumulative > rank[:, None]).argmax(axis=1)
            out[start : start + len(w)] = np.where(n > 0, self.values[column], math.nan)
        return out


@dataclass(frozen=True)
class RatioUnits:
    """A sum over blocks divided by another: errors / requests, requests / seconds, mean value."""

    numerator: np.ndarray  # float64, blocks
    denominator: np.ndarray  # float64, blocks
    scale: float = 1.0

    @property
    def blocks(self) -> int:
        return len(self.numerator)

    def statistic(self, weights: np.ndarray) -> np.ndarray:
        top, bottom = weights @ self.numerator, weights @ self.denominator
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                bottom > 0, self.scale * top / np.where(bottom > 0, bottom, 1), math.nan
            )


def resample_weights(rng: np.random.Generator, blocks: int, resamples: int) -> np.ndarray:
    """Multiplicities (resamples × blocks): each row draws ``blocks`` blocks with replacement."""
    drawn = rng.integers(0, blocks, size=(resamples, blocks))
    offsets = np.arange(resamples)[:, None] * blocks
    flat = np.bincount((drawn + offsets).ravel(), minlength=resamples * blocks)
    return flat.reshape(resamples, blocks).astype(np.float64)


Units = QuantileUnits | RatioUnits


def statistic_of(units: Units, weights: np.ndarray, q: Fraction | None) -> np.ndarray:
    """The statistic of each row of block multiplicities ``weights``."""
    if isinstance(units, QuantileUnits):
        assert q is not None
        return units.statistic(weights, q)
    return units.statistic(weights)


def resampled(
    units: Units, q: Fraction | None, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """The statistic of ``resamples`` block-bootstrap resamples of one run."""
    return statistic_of(units, resample_weights(rng, max(units.blocks, 1), resamples), q)


def _whole(units: Units, q: Fraction | None) -> float:
    """The statistic of the run as it is (every block once)."""
    return float(statistic_of(units, np.ones((1, max(units.blocks, 1))), q)[0])


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def delta_interval(
    a: Units,
    b: Units,
    q: Fraction | None = None,
    *,
    seed: int = SEED,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    exact_delta: float | None = None,
) -> Interval:
    """The ``confidence`` interval of statistic(B) − statistic(A), both block-resampled.

    With ``exact_delta`` (B − A from the raw values), the resampled deltas are shifted by the
    difference between it and the delta of the whole runs on the bins, so that rounding to
    0.1 % bins cannot move the interval away from the exact delta.
    """
    n = min(a.blocks, b.blocks)
    if n < 2:
        return Interval(math.nan, math.nan)
    rng_a, rng_b = (np.random.default_rng([seed, side]) for side in (0, 1))
    deltas = resampled(b, q, rng_b, resamples) - resampled(a, q, rng_a, resamples)
    if exact_delta is not None:  # move the bins' rounding of the whole runs off the interval
        deltas += exact_delta - float(_whole(b, q) - _whole(a, q))
    deltas = deltas[~np.isnan(deltas)]
    if len(deltas) < resamples // 2:  # most resamples empty: too little data to say anything
        return Interval(math.nan, math.nan)
    alpha = expanded_alpha(n, confidence)
    low, high = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    return Interval(float(low), float(high))


__all__ = [
    "BIN_REL",
    "MIN_BLOCKS",
    "RESAMPLES",
    "SEED",
    "Interval",
    "QuantileUnits",
    "RatioUnits",
    "Units",
    "bin_of",
    "bin_value",
    "block_seconds",
    "delta_interval",
    "resample_weights",
    "resampled",
    "statistic_of",
]
