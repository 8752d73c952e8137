"""Per-second series and distributions for charts: pure functions of samples and metadata."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from analysis.measuring.client import QUANTILES, US_PER_MS, US_PER_S, Window, nearest_rank_index

PER_SECOND_COLUMNS = ("t_s", "sent", "rate_rps", "requests", "errors", "p50_ms", "p95_ms", "p99_ms")
SPECTRUM_POINTS = 200
MAX_ERROR_SERIES = 6  # error kinds drawn one by one; the rest add up as "other"
_EMPTY_SPECTRUM = pd.DataFrame(
    {"nines": [], "percentile": [], "marked": [], "response_ms": [], "service_ms": []},
    dtype="float64",
).astype({"marked": bool})


def time_origin_us(metadata: dict[str, Any], samples: pd.DataFrame) -> int | None:
    """Second 0 of the charts: the load's start, else the first intended send time."""
    start = (metadata.get("load") or {}).get("start_us")
    if start is not None:
        return int(start)
    if len(samples):
        return int(samples["intended_us"].to_numpy().min())
    return None


def per_second(samples: pd.DataFrame, origin_us: int, failed: np.ndarray) -> pd.DataFrame:
    """One row a second of the whole run: sent rate (by sent_us) and latency (by intended_us).

    ``t_s`` is the second's start relative to ``origin_us``; latency columns are nearest-rank
    percentiles of response time (ms) of requests intended in that second, NaN when none.
    """
    if len(samples) == 0:
        return pd.DataFrame({name: pd.Series([], dtype="float64") for name in PER_SECOND_COLUMNS})
    sent_s = (samples["sent_us"].to_numpy() - origin_us) // US_PER_S
    intended_s = (samples["intended_us"].to_numpy() - origin_us) // US_PER_S
    response = samples["response_us"].to_numpy()
    keep = intended_s >= 0
    intended_s, response, failed = intended_s[keep], response[keep], failed[keep]
    sent_s = sent_s[sent_s >= 0]
    last = int(max(sent_s.max(initial=-1), intended_s.max(initial=-1)))
    seconds = np.arange(last + 1)
    sent_counts = np.bincount(sent_s, minlength=last + 1)
    requests = np.bincount(intended_s, minlength=last + 1)
    errors = np.bincount(intended_s[failed], minlength=last + 1)
    frame = {
        "t_s": seconds.astype("float64"),
        "sent": sent_counts,
        "rate_rps": sent_counts.astype("float64"),
        "requests": requests,
        "errors": errors,
    }
    order = np.lexsort((response, intended_s))
    sorted_response = response[order]
    groups, starts, counts = np.unique(intended_s[order], return_index=True, return_counts=True)
    for name in ("p50", "p95", "p99"):
        column = np.full(last + 1, math.nan)
        index = starts + nearest_rank_index(counts, QUANTILES[name])
        column[groups] = sorted_response[index] / US_PER_MS
        frame[f"{name}_ms"] = column
    return pd.DataFrame(frame)


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
    """Response and service time (ms) by percentile in ``window``, log-spaced towards the tail.

    ``nines`` is -log10(1 - percentile/100): 1 is P90, 2 is P99, 3 is P99.9. Each column is the
    nearest-rank value of its own distribution at that percentile; ``marked`` rows are P0, P50,
    P90, P95, P99, P99.9 ... (as far as the sample count resolves) and the maximum.
    """
    if window is None or len(samples) == 0:
        return _EMPTY_SPECTRUM.copy()
    intended = samples["intended_us"].to_numpy()
    mask = (intended >= window.start_us) & (intended < window.end_us)
    response = np.sort(samples["response_us"].to_numpy()[mask])
    service = np.sort(samples["service_us"].to_numpy()[mask])
    n = len(response)
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
            "response_ms": response[index] / US_PER_MS,
            "service_ms": service[index] / US_PER_MS,
        }
    )


def errors_per_second(
    samples: pd.DataFrame, origin_us: int, failed: np.ndarray, top: int = MAX_ERROR_SERIES
) -> pd.DataFrame:
    """Failed requests a second (by intended send time) by ``kind: error``, widest first.

    Columns: ``t_s`` then one count column a (kind, error class) pair; beyond ``top`` pairs the
    rest add up in ``other``. No columns but ``t_s`` when nothing failed.
    """
    intended_s = (samples["intended_us"].to_numpy() - origin_us) // US_PER_S
    keep = failed & (intended_s >= 0)
    if not keep.any():
        return pd.DataFrame({"t_s": pd.Series([], dtype="float64")})
    last = int(intended_s[intended_s >= 0].max())
    labels = (
        samples["kind"].astype(str).to_numpy()[keep].astype(object)
        + ": "
        + samples["error"].astype(str).to_numpy()[keep].astype(object)
    )
    seconds = intended_s[keep]
    names, codes, totals = np.unique(labels, return_inverse=True, return_counts=True)
    order = np.argsort(-totals, kind="stable")
    frame: dict[str, np.ndarray] = {"t_s": np.arange(last + 1, dtype="float64")}
    other = np.zeros(last + 1, dtype=np.int64)
    for rank, code in enumerate(order):
        counts = np.bincount(seconds[codes == code], minlength=last + 1)
        if rank < top:
            frame[str(names[code])] = counts
        else:
            other += counts
    if other.any():
        frame["other"] = other
    return pd.DataFrame(frame)


__all__ = [
    "MAX_ERROR_SERIES",
    "PER_SECOND_COLUMNS",
    "errors_per_second",
    "latency_spectrum",
    "per_second",
    "target_rate",
    "time_origin_us",
]
