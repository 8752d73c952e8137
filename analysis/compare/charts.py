"""The comparison's charts: A and B overlaid, as specs for the one composer.

Latency (and TTFT) by percentile, the inverse of the cumulative distribution on the run report's
nines axis, so the tails are as readable as the middle; P50 and P99 per second over the judged
window; requests per second. A is drawn blue, B orange, in every chart.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

from analysis.compare.bootstrap import bin_value
from analysis.compare.comparison import Comparison
from analysis.compare.metrics import exact_quantile_ms
from analysis.compare.seconds import Distribution, RunSeconds, SecondBins
from analysis.measuring.tally import US_PER_MS, nearest_rank_index
from analysis.outputs.chartspec import ChartSpec, ChartTable, num_text
from analysis.outputs.plots import nines_label

COLORS = {"A": "tab:blue", "B": "tab:orange"}
_GRID_POINTS = 400
WINDOW_LABEL = "time since the judged window's start (s)"


def spectrum(distribution: Distribution) -> pd.DataFrame:
    """Value (ms) at ``nines`` 0 .. log10(count) (90 % is 1, 99 % is 2 ...), then the maximum."""
    n = distribution.count
    if n == 0:
        return pd.DataFrame({"nines": [], "value_ms": []})
    top = math.log10(n)
    nines = np.linspace(0.0, top, _GRID_POINTS)
    share = 1.0 - 10.0**-nines
    ranks = np.minimum(np.ceil(share * n).astype(np.int64), n) - 1
    cumulative = np.cumsum(distribution.counts)
    index = np.searchsorted(cumulative, np.maximum(ranks, 0), side="right")
    values = distribution.values_us[np.minimum(index, len(cumulative) - 1)] / US_PER_MS
    return pd.DataFrame({"nines": nines, "value_ms": values.astype(np.float64)})


def per_second_quantiles(pairs: SecondBins, seconds: int, q: Fraction) -> np.ndarray:
    """The ``q`` quantile (ms, on the 0.1 % bins) of each second; NaN for an empty second."""
    out = np.full(seconds, math.nan)
    if not len(pairs.counts):
        return out
    starts = np.flatnonzero(np.r_[True, pairs.seconds[1:] != pairs.seconds[:-1]])
    for begin, end in zip(starts, [*starts[1:], len(pairs.counts)], strict=True):
        cumulative = np.cumsum(pairs.counts[begin:end])
        rank = int(nearest_rank_index(int(cumulative[-1]), q))
        column = begin + int(np.searchsorted(cumulative, rank, side="right"))
        out[int(pairs.seconds[begin])] = bin_value(pairs.bins[column]) / US_PER_MS
    return out


def _log_ms(ax: Axes) -> None:
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_spectra(ax: Axes, spectra: dict[str, pd.DataFrame], what: str) -> None:
    """Each run's values by percentile (x: nines), overlaid."""
    top = 0.0
    for side, frame in spectra.items():
        if len(frame):
            ax.plot(frame["nines"], frame["value_ms"].clip(lower=1e-3), color=COLORS[side],
                    label=side)  # fmt: skip
            top = max(top, float(frame["nines"].max()))
    ax.xaxis.set_major_locator(FixedLocator([float(t) for t in range(int(top) + 1)]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: nines_label(x)))
    _log_ms(ax)
    ax.set_xlabel("percentile (log scale of nines)")
    ax.set_ylabel(f"{what} (ms)")
    ax.legend(loc="upper left")


def plot_latency_seconds(ax: Axes, runs: dict[str, RunSeconds]) -> None:
    """P50 (solid) and P99 (dashed) per second of each run's window."""
    for side, run in runs.items():
        t = np.arange(run.seconds)
        for q, style, name in ((Fraction(1, 2), "-", "P50"), (Fraction(99, 100), "--", "P99")):
            values = per_second_quantiles(run.latency.per_second, run.seconds, q)
            ax.plot(t, np.clip(values, 1e-3, None), style, drawstyle="steps-post",
                    color=COLORS[side], label=f"{side} {name}")  # fmt: skip
    _log_ms(ax)
    ax.set_xlabel(WINDOW_LABEL)
    ax.set_ylabel("response time (ms)")
    ax.legend(loc="best", ncols=4)


def plot_rate_seconds(ax: Axes, runs: dict[str, RunSeconds]) -> None:
    """Requests (intended in each second) per second of each run's window, errors dotted."""
    for side, run in runs.items():
        t = np.arange(run.seconds)
        ax.plot(t, run.requests / run.seconds_s, drawstyle="steps-post", color=COLORS[side],
                label=f"{side} requests")  # fmt: skip
        if run.errors.any():
            ax.plot(t, run.errors / run.seconds_s, ":", drawstyle="steps-post",
                    color=COLORS[side], label=f"{side} errors")  # fmt: skip
    ax.set_xlabel(WINDOW_LABEL)
    ax.set_ylabel("per second")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right")


def _percentile_table(distributions: dict[str, Distribution]) -> ChartTable:
    marks = [("P50", Fraction(1, 2)), ("P90", Fraction(9, 10)), ("P99", Fraction(99, 100)),
             ("P99.9", Fraction(999, 1000)), ("max", Fraction(1))]  # fmt: skip
    rows = []
    for label, q in marks:
        cells = [label, *(num_text(exact_quantile_ms(d, q)) for d in distributions.values())]
        rows.append(cells)
    return ChartTable(["percentile", *(f"{side} (ms)" for side in distributions)], rows)


def compare_chart_specs(comparison: Comparison) -> list[ChartSpec]:
    runs = {"A": comparison.a, "B": comparison.b}
    latency = {side: run.latency for side, run in runs.items()}
    spectra = {side: spectrum(d) for side, d in latency.items()}
    specs = [
        ChartSpec(
            "compare-latency-percentiles",
            "Latency by percentile, A and B",
            "Response time of every request in each run's judged window (from its intended "
            "send) against its percentile, the inverse of the cumulative distribution: each "
            "step right is one more nine. Log scales.",
            lambda ax: plot_spectra(ax, spectra, "response time"),
            _percentile_table(latency),
        ),
        ChartSpec(
            "compare-latency-over-time",
            "P50 and P99 per second, A and B",
            "Response time of the requests intended in each second of the judged window; the "
            "bootstrap resamples these seconds (in blocks). Log scale.",
            lambda ax: plot_latency_seconds(ax, runs),
        ),
        ChartSpec(
            "compare-rate-over-time",
            "Requests per second, A and B",
            "Requests intended in each second of the judged window (solid) and, where any "
            "failed, the failures (dotted).",
            lambda ax: plot_rate_seconds(ax, runs),
        ),
    ]
    ttft = {side: run.ttft for side, run in runs.items()}
    if any(d.count for d in ttft.values()):
        ttft_spectra = {side: spectrum(d) for side, d in ttft.items()}
        specs.insert(
            1,
            ChartSpec(
                "compare-ttft-percentiles",
                "Time to first token by percentile, A and B",
                "TTFT of the streamed requests that received a token, from the intended send.",
                lambda ax: plot_spectra(ax, ttft_spectra, "time to first token"),
                _percentile_table(ttft),
            ),
        )
    return specs


__all__ = [
    "COLORS",
    "compare_chart_specs",
    "per_second_quantiles",
    "plot_latency_seconds",
    "plot_rate_seconds",
    "plot_spectra",
    "spectrum",
]
