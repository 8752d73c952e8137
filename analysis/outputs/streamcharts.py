"""The streaming chart: TTFT, inter-token latency (per gap) and TPOT by percentile, with numbers."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

from analysis.measuring.client import US_PER_MS, Window, nearest_rank_index
from analysis.measuring.streaming import per_request, streamed_mask, tally_streaming
from analysis.measuring.tally import Histogram, Tally
from analysis.outputs.chartspec import ChartSpec, ChartTable, num_text

CURVE_POINTS = 200
# label -> per_request column (µs) and line style
STREAM_SERIES = {
    "TTFT from intended send": ("ttft_us", "tab:purple", "-"),
    "TTFT from actual send": ("ttft_sent_us", "tab:cyan", "--"),
    "ITL, each chunk gap": ("itl_gap_us", "tab:orange", "-"),
    "TPOT, per request": ("tpot_us", "tab:olive", ":"),
}
_MARKS = {"P0": Fraction(0), "P50": Fraction(1, 2), "P90": Fraction(9, 10)}
_MARKS |= {"P95": Fraction(19, 20), "P99": Fraction(99, 100), "P99.9": Fraction(999, 1000)}


def percentile_curve(values_us: Histogram) -> pd.DataFrame:
    """``nines`` (0 is P0, 1 is P90, 2 is P99 ...) and nearest-rank ``value_ms``, up to the
    resolution of the sample count; the last point shows the maximum."""
    n = values_us.count
    if n == 0:
        return pd.DataFrame({"nines": [], "value_ms": []}, dtype="float64")
    top = max(math.log10(n), 1.0)
    nines = np.linspace(0.0, top, CURVE_POINTS)
    index = np.clip(np.ceil((1.0 - 10.0**-nines) * n).astype(np.int64), 1, n) - 1
    index[-1] = n - 1
    return pd.DataFrame({"nines": nines, "value_ms": values_us.at(index) / US_PER_MS})


def stream_curves(
    samples: pd.DataFrame, window: Window | None, kinds: frozenset[str] = frozenset()
) -> dict[str, Histogram]:
    """Each series of ``STREAM_SERIES`` over the judged window, in µs (none: left out)."""
    t = Tally()
    if len(samples):
        tally_streaming(samples, window, per_request(samples, streamed_mask(samples, kinds)), t)
    return curves_from(t)


def curves_from(t: Tally) -> dict[str, Histogram]:
    """The series of ``STREAM_SERIES`` a ``tally_streaming`` tally holds (none: left out)."""
    out = {}
    for label, (column, _, _) in STREAM_SERIES.items():
        values = t.histogram(f"stream:{column}")
        if values.count:
            out[label] = values
    return out


def plot_stream_latency(ax: Axes, curves: dict[str, Histogram]) -> None:
    """TTFT and ITL by percentile on a log-of-nines x axis and a log ms y axis."""
    top = 1.0
    for label, values in curves.items():
        _, color, style = STREAM_SERIES.get(label, ("", None, "-"))
        curve = percentile_curve(values)
        top = max(top, float(curve["nines"].max()))
        ax.plot(curve["nines"], curve["value_ms"].clip(lower=1e-3), color=color,
                linestyle=style, label=label)  # fmt: skip
    ax.xaxis.set_major_locator(FixedLocator([float(t) for t in range(int(top) + 1)]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 - 100 * 10.0**-x:g}%"))
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("percentile (log scale of nines)")
    ax.set_ylabel("latency (ms)")
    ax.legend(loc="upper left")


def stream_table(curves: dict[str, Histogram]) -> ChartTable:
    """Nearest-rank P0, P50, P90, P95, P99, P99.9 and max of each series, with its count."""
    head = ["series", "requests", *_MARKS, "max"]
    rows = []
    for label, values in curves.items():
        n = values.count
        ranks = [int(nearest_rank_index(n, q)) for q in _MARKS.values()] + [n - 1]
        cells = [num_text(float(v) / US_PER_MS) for v in values.at(np.array(ranks))]
        rows.append([label, f"{n:,}", *cells])
    return ChartTable(head, rows, "milliseconds")


def stream_spec(curves: dict[str, Histogram]) -> ChartSpec:
    """The chart, or the reason it is skipped."""
    title = "Time to first token and inter-token latency"
    if not curves:
        return ChartSpec("streaming", title, "", skipped="no streamed requests in this run")
    caption = (
        "Streamed requests of the judged window by percentile, HdrHistogram style: time to the "
        "first content token from the intended send (corrected for coordinated omission) and "
        "from the actual send, and each request's mean gap between tokens "
        "((last − first) / (tokens − 1)); the last point is the maximum. Log scales."
    )
    return ChartSpec(
        "streaming",
        title,
        caption,
        lambda ax: plot_stream_latency(ax, curves),
        stream_table(curves),
    )


__all__ = [
    "STREAM_SERIES",
    "curves_from",
    "percentile_curve",
    "plot_stream_latency",
    "stream_curves",
    "stream_spec",
    "stream_table",
]
