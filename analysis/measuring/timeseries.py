"""Per-second series and distributions for charts: pure functions of samples and metadata."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from analysis.measuring.client import (
    QUANTILES,
    US_PER_MS,
    US_PER_S,
    Window,
    nearest_rank_index,
    span_of,
    tally_client,
)
from analysis.measuring.tally import Histogram, Tally
from analysis.reading.samples import SampleSpan

PER_SECOND_COLUMNS = ("t_s", "sent", "rate_rps", "requests", "errors", "p50_ms", "p95_ms", "p99_ms")
SPECTRUM_POINTS = 200
MAX_ERROR_SERIES = 6  # error kinds drawn one by one; the rest add up as "other"
_EMPTY_SPECTRUM = pd.DataFrame(
    {"nines": [], "percentile": [], "marked": [], "response_ms": [], "service_ms": []},
    dtype="float64",
).astype({"marked": bool})


def time_origin_us(metadata: dict[str, Any], samples: pd.DataFrame | SampleSpan) -> int | None:
    """Second 0 of the charts: the load's start, else the first intended send time."""
    start = (metadata.get("load") or {}).get("start_us")
    if start is not None:
        return int(start)
    return span_of(samples).first_intended_us


def _grow(array: np.ndarray, size: int) -> np.ndarray:
    if size <= len(array):
        return array
    out = np.zeros(max(size, 2 * len(array)), dtype=array.dtype)
    out[: len(array)] = array
    return out


class SecondsTally:
    """Requests, errors and response-time P50/P95/P99 of each whole second from ``origin_us``
    (by intended time, up to ``stop_us``) and sends a second; blocks arrive in intended order.

    A second's percentiles are computed once its last request has arrived: the rows of the
    last second of a block wait for the next one, so memory is a block, not the run.
    """

    def __init__(self, origin_us: int, stop_us: int | None = None) -> None:
        self.origin_us, self.stop_us = origin_us, stop_us
        self.sent = np.zeros(0, dtype=np.int64)
        self.requests = np.zeros(0, dtype=np.int64)
        self.errors = np.zeros(0, dtype=np.int64)
        self.pct = {name: np.zeros(0) for name in ("p50", "p95", "p99")}
        self.last = -1
        self._waiting = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, bool))

    def add(self, samples: pd.DataFrame, failed: np.ndarray) -> None:
        sent_s = (samples["sent_us"].to_numpy() - self.origin_us) // US_PER_S
        sent_s = sent_s[sent_s >= 0]
        if self.stop_us is None and len(sent_s):
            self.last = max(self.last, int(sent_s.max()))
            self.sent = _grow(self.sent, self.last + 1)
            self.sent[: self.last + 1] += np.bincount(sent_s, minlength=self.last + 1)
        intended = samples["intended_us"].to_numpy()
        keep = intended >= self.origin_us
        if self.stop_us is not None:
            keep &= intended < self.stop_us
        seconds = (intended[keep] - self.origin_us) // US_PER_S
        waiting = self._waiting
        self._take(
            np.concatenate([waiting[0], seconds]),
            np.concatenate([waiting[1], samples["response_us"].to_numpy()[keep]]),
            np.concatenate([waiting[2], failed[keep]]),
            final=False,
        )

    def _take(self, seconds: np.ndarray, response: np.ndarray, failed: np.ndarray, final: bool):
        if not len(seconds):
            return
        top = int(seconds.max())
        done = seconds < top if not final else np.ones(len(seconds), dtype=bool)
        self._waiting = (seconds[~done], response[~done], failed[~done])
        seconds, response, failed = seconds[done], response[done], failed[done]
        self.last = max(self.last, top)
        size = self.last + 1
        self.requests = _grow(self.requests, size)
        self.errors = _grow(self.errors, size)
        if not len(seconds):
            return
        self.requests[:size] += np.bincount(seconds, minlength=size)
        self.errors[:size] += np.bincount(seconds[failed], minlength=size)
        order = np.lexsort((response, seconds))
        ordered = response[order]
        groups, starts, counts = np.unique(seconds[order], return_index=True, return_counts=True)
        for name, column in self.pct.items():
            column = _grow(column, size)
            column[groups] = ordered[starts + nearest_rank_index(counts, QUANTILES[name])]
            self.pct[name] = column

    def finish(self) -> None:
        """Measure the last second (after the last block)."""
        self._take(*self._waiting, final=True)

    def frame(self) -> pd.DataFrame:
        """``PER_SECOND_COLUMNS``: one row a second from 0 to the last second with a request."""
        size = self.last + 1
        if size <= 0:
            return pd.DataFrame(
                {name: pd.Series([], dtype="float64") for name in PER_SECOND_COLUMNS}
            )
        requests = _grow(self.requests, size)[:size]
        sent = _grow(self.sent, size)[:size]
        frame = {
            "t_s": np.arange(size).astype("float64"),
            "sent": sent,
            "rate_rps": sent.astype("float64"),
            "requests": requests,
            "errors": _grow(self.errors, size)[:size],
        }
        for name, column in self.pct.items():
            values = _grow(column, size)[:size] / US_PER_MS
            frame[f"{name}_ms"] = np.where(requests > 0, values, math.nan)
        return pd.DataFrame(frame)


def per_second(samples: pd.DataFrame, origin_us: int, failed: np.ndarray) -> pd.DataFrame:
    """One row a second of the whole run: sent rate (by sent_us) and latency (by intended_us).

    ``t_s`` is the second's start relative to ``origin_us``; latency columns are nearest-rank
    percentiles of response time (ms) of requests intended in that second, NaN when none.
    """
    tally = SecondsTally(origin_us)
    order = np.argsort(samples["intended_us"].to_numpy(), kind="stable")
    tally.add(samples.iloc[order], np.asarray(failed)[order])
    tally.finish()
    return tally.frame()


def target_rate(metadata: dict[str, Any], origin_us: int) -> pd.DataFrame:
    """The scheduled rate as line points (``t_s``, ``rate_rps``) from the metadata's stages.

    Without stages, the judged window at ``load.rate_rps``; empty when the metadata has neither.
    """
    load = metadata.get("load") or {}
    points: list[tuple[float, float]] = []
    for stage in load.get("stages") or []:
        start, end = stage.get("start_us"), stage.get("end_us")
        start_rps, end_rps = stage.get("start_rps"), stage.get("end_rps")
        if None in (start, end) or (start_rps is None and end_rps is None):
            continue
        start_rps = end_rps if start_rps is None else start_rps
        end_rps = start_rps if end_rps is None else end_rps
        points += [
            ((start - origin_us) / US_PER_S, start_rps),
            ((end - origin_us) / US_PER_S, end_rps),
        ]
    rate = load.get("rate_rps")
    if not points and rate is not None:
        start = load.get("judge_start_us", load.get("start_us"))
        end = load.get("judge_end_us", load.get("end_us"))
        if start is not None and end is not None:
            points = [((start - origin_us) / US_PER_S, rate), ((end - origin_us) / US_PER_S, rate)]
    return pd.DataFrame(points, columns=["t_s", "rate_rps"], dtype="float64")


def latency_spectrum(samples: pd.DataFrame, window: Window | None) -> pd.DataFrame:
    """The spectrum of the requests of ``samples`` intended in ``window`` (see spectrum_of)."""
    t = Tally()
    tally_client(samples, window, t)
    return spectrum_of(t.histogram("response"), t.histogram("service"))


def spectrum_of(response: Histogram, service: Histogram) -> pd.DataFrame:
    """Response and service time (ms) by percentile in ``window``, log-spaced towards the tail.

    ``nines`` is -log10(1 - percentile/100): 1 is P90, 2 is P99, 3 is P99.9. Each column is the
    nearest-rank value of its own distribution at that percentile; ``marked`` rows are P0, P50,
    P90, P95, P99, P99.9 ... (as far as the sample count resolves) and the maximum.
    """
    n = response.count
    if n == 0:
        return _EMPTY_SPECTRUM.copy()
    # nines: 0 -> p0, 1 -> p90, 2 -> p99 ... up to the resolution the sample count allows;
    # the marked points (P0, P50, P90, P95, P99, P99.9 ...) are exact and tabled under the chart
    top = max(math.log10(n), 1.0)
    exact = {0.0: Fraction(0), math.log10(2): Fraction(1, 2), 1.0: Fraction(9, 10)}
    exact[math.log10(20)] = Fraction(19, 20)
    exact.update({float(k): 1 - Fraction(1, 10**k) for k in range(2, int(top) + 1)})
    marks = [m for m in exact if m <= top]
    nines = np.union1d(np.linspace(0.0, top, SPECTRUM_POINTS), marks)
    marked = np.isin(nines, marks)
    fraction = 1.0 - 10.0**-nines
    index = np.clip(np.ceil(fraction * n).astype(np.int64), 1, n) - 1
    for position in np.flatnonzero(marked):  # integer ranks, as the verdicts use
        index[position] = int(nearest_rank_index(n, exact[float(nines[position])]))
    # the last point is drawn at 1 - 1/n but shows the maximum
    index[-1], fraction[-1], marked[-1] = n - 1, 1.0, True
    return pd.DataFrame(
        {
            "nines": nines,
            "percentile": fraction * 100.0,
            "marked": marked,
            "response_ms": response.at(index) / US_PER_MS,
            "service_ms": service.at(index) / US_PER_MS,
        }
    )


class ErrorsTally:
    """Failed requests a second (by intended time) of each ``kind: error`` pair, block by block."""

    def __init__(self, origin_us: int) -> None:
        self.origin_us = origin_us
        self.by_label: dict[str, np.ndarray] = {}
        self.last = -1

    def add(self, samples: pd.DataFrame, failed: np.ndarray) -> None:
        intended_s = (samples["intended_us"].to_numpy() - self.origin_us) // US_PER_S
        self.last = max(self.last, int(intended_s.max(initial=-1)))
        keep = failed & (intended_s >= 0)
        if not keep.any():
            return
        labels = (
            samples["kind"].astype(str).to_numpy()[keep].astype(object)
            + ": "
            + samples["error"].astype(str).to_numpy()[keep].astype(object)
        )
        seconds = intended_s[keep]
        names, codes = np.unique(labels, return_inverse=True)
        for code, name in enumerate(names):
            counts = np.bincount(seconds[codes == code])
            total = _grow(self.by_label.get(str(name), np.zeros(0, dtype=np.int64)), len(counts))
            total[: len(counts)] += counts
            self.by_label[str(name)] = total

    def frame(self, top: int = MAX_ERROR_SERIES) -> pd.DataFrame:
        """Columns ``t_s`` then one count column a pair, widest first; beyond ``top`` pairs the
        rest add up in ``other``. No columns but ``t_s`` when nothing failed."""
        if not self.by_label:
            return pd.DataFrame({"t_s": pd.Series([], dtype="float64")})
        size = self.last + 1
        names = sorted(self.by_label)
        totals = np.array([int(self.by_label[n].sum()) for n in names])
        order = np.argsort(-totals, kind="stable")
        frame: dict[str, np.ndarray] = {"t_s": np.arange(size, dtype="float64")}
        other = np.zeros(size, dtype=np.int64)
        for rank, code in enumerate(order):
            counts = _grow(self.by_label[names[code]], size)[:size]
            if rank < top:
                frame[names[code]] = counts
            else:
                other += counts
        if other.any():
            frame["other"] = other
        return pd.DataFrame(frame)


def errors_per_second(
    samples: pd.DataFrame, origin_us: int, failed: np.ndarray, top: int = MAX_ERROR_SERIES
) -> pd.DataFrame:
    """Failed requests a second (by intended send time) by ``kind: error``, widest first.

    Columns: ``t_s`` then one count column a (kind, error class) pair; beyond ``top`` pairs the
    rest add up in ``other``. No columns but ``t_s`` when nothing failed.
    """
    tally = ErrorsTally(origin_us)
    tally.add(samples, failed)
    return tally.frame(top)


__all__ = [
    "ErrorsTally",
    "MAX_ERROR_SERIES",
    "PER_SECOND_COLUMNS",
    "SecondsTally",
    "errors_per_second",
    "latency_spectrum",
    "per_second",
    "spectrum_of",
    "target_rate",
    "time_origin_us",
]
