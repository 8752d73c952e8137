"""Chart drawing: every ``plot_x(ax, data)`` draws onto an Axes it is given and returns None.

No figure is created here; ``analysis.outputs.charts`` (one run) and ``analysis.history.index``
(across runs) own figures through ``charts.render_figures``. Labels that come from the run
(error classes, metric names) go through ``safe_label`` so that matplotlib neither parses them
as mathtext nor hides them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

from analysis.contract.targets import Target

STYLE: dict[str, Any] = {
    "figure.figsize": (9.0, 3.6),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "savefig.bbox": "tight",
}
TIME_LABEL = "time since load start (s)"
TARGET_COLOR = "tab:red"
OFF_SCALE_FACTOR = 4.0  # a limit this many times beyond the data is written, not drawn
MAX_LABEL_CHARS = 60
MAX_TREND_TICKS = 8
STATUS_COLORS = {"PASS": "tab:green", "FAIL": "tab:red", "INCOMPLETE": "tab:orange"}
_WINDOW_COLOR = "tab:green"
_STALL_COLOR = "tab:gray"
MIN_BAND_SHARE = 0.004  # a stall band is drawn at least this share of the time axis wide


def safe_label(text: str) -> str:
    """``text`` for a legend: no mathtext, not hidden by a leading underscore, not too long."""
    text = " ".join(str(text).split()).replace("$", r"\$")
    if len(text) > MAX_LABEL_CHARS:
        text = text[: MAX_LABEL_CHARS - 1] + "…"
    return " " + text if text.startswith("_") else text


def _log_ms_axis(ax: Axes) -> None:
    """Log y axis labelled 1, 2, 5, 10, 20, 50 ... ms in plain numbers."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _shade_window(ax: Axes, window_s: tuple[float, float] | None) -> None:
    if window_s is not None:
        ax.axvspan(window_s[0], window_s[1], color=_WINDOW_COLOR, alpha=0.08, label="judged window")


def plot_throughput(
    ax: Axes,
    per_second: pd.DataFrame,
    target_stages: pd.DataFrame,
    window_s: tuple[float, float] | None = None,
) -> None:
    """Requests sent per second against the scheduled rate."""
    _shade_window(ax, window_s)
    ax.plot(
        per_second["t_s"], per_second["rate_rps"], drawstyle="steps-post", label="achieved (sent)"
    )
    if len(target_stages):
        ax.plot(
            target_stages["t_s"],
            target_stages["rate_rps"],
            "--",
            color=TARGET_COLOR,
            label="target",
        )
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("requests per second")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right")


def plot_latency_over_time(
    ax: Axes,
    per_second: pd.DataFrame,
    window_s: tuple[float, float] | None = None,
    stalls_s: Sequence[tuple[float, float]] = (),
) -> None:
    """P50, P95 and P99 response time per second (by intended send time), log scale; the
    generator's own stalls (``stalls_s``: start, end in s) as grey bands."""
    _shade_window(ax, window_s)
    span_s = float(per_second["t_s"].max()) + 1.0 if len(per_second) else 1.0
    for i, (start, end) in enumerate(stalls_s):
        end = max(end, start + MIN_BAND_SHARE * span_s)  # a 100 ms pause in an hour stays visible
        label = "generator stall" if i == 0 else None
        ax.axvspan(start, end, color=_STALL_COLOR, alpha=0.35, linewidth=0, label=label)
    for name, color in (("p50", "tab:blue"), ("p95", "tab:orange"), ("p99", "tab:red")):
        values = per_second[f"{name}_ms"].clip(lower=1e-3)
        ax.plot(per_second["t_s"], values, drawstyle="steps-post", color=color, label=name.upper())
    _log_ms_axis(ax)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("response time (ms)")
    ax.legend(loc="best", ncols=4)


def nines_label(nines: float) -> str:
    """The percentile of a point ``nines`` along the log axis: 0 -> 0%, 1 -> 90%, 2 -> 99% ..."""
    return f"{100 - 100 * 10.0**-nines:.{max(0, math.ceil(nines) - 2)}f}%"


def plot_latency_spectrum(ax: Axes, spectrum: pd.DataFrame) -> None:
    """Response and service time by percentile, HdrHistogram style: x is the number of nines."""
    ax.plot(
        spectrum["nines"],
        spectrum["response_ms"].clip(lower=1e-3),
        color="tab:purple",
        label="response time (from intended send)",
    )
    if "service_ms" in spectrum:
        ax.plot(
            spectrum["nines"],
            spectrum["service_ms"].clip(lower=1e-3),
            color="tab:cyan",
            linestyle="--",
            label="service time (from actual send)",
        )
    ticks = [float(t) for t in range(int(np.floor(spectrum["nines"].max())) + 1)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: nines_label(x)))
    _log_ms_axis(ax)
    ax.set_xlabel("percentile (log scale of nines)")
    ax.set_ylabel("latency (ms)")
    ax.legend(loc="upper left")


def plot_errors_over_time(
    ax: Axes, errors: pd.DataFrame, window_s: tuple[float, float] | None = None
) -> None:
    """Failed requests a second, stacked by ``kind: error class`` (columns beside ``t_s``)."""
    _shade_window(ax, window_s)
    # one stepped area a series, not a bar a second: a day-long run has 86,400 seconds
    t_s = np.append(
        errors["t_s"].to_numpy(dtype="float64"), len(errors) and errors["t_s"].iloc[-1] + 1
    )
    bottom = np.zeros(len(t_s))
    for column in [c for c in errors.columns if c != "t_s"]:
        counts = errors[column].to_numpy(dtype="float64")
        top = bottom + np.append(counts, counts[-1:])
        ax.fill_between(t_s, bottom, top, step="post", label=safe_label(column), linewidth=0)
        bottom = top
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("failed requests per second")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right")


def target_lines(ax: Axes, target: Target | None, scale: float, data_max: float) -> None:
    """Draw the target's bound(s) as dashed lines; a limit far above the data is only named in
    the legend (drawing it would flatten the data against the axis)."""
    if target is None:
        return
    bounds = [target.value] if target.op != "range" else [target.value, target.high]
    for bound in bounds:
        y = bound * scale
        if target.op in ("<", "<=") and data_max > 0 and y > OFF_SCALE_FACTOR * data_max:
            label = f"target {target.text} (off the chart: {y / data_max:.0f}× the peak)"
            ax.plot([], [], linestyle="--", color=TARGET_COLOR, label=label)
            continue
        ax.axhline(y, linestyle="--", color=TARGET_COLOR, label=f"target {target.text}")


def _zero_based(ax: Axes, data_max: float) -> None:
    """Start the y axis at 0 and leave room above the highest point."""
    top = ax.get_ylim()[1]
    ax.set_ylim(0, max(top, data_max * 1.12) if data_max > 0 else None)


def plot_server_metric(
    ax: Axes,
    points: pd.DataFrame,
    label: str,
    window_s: tuple[float, float] | None = None,
    target: Target | None = None,
    scale: float = 1.0,
    zero_based: bool = True,
) -> None:
    """One server series (``t_s``, ``value`` already in display units) with its target line.

    ``scale`` turns the target's value (in the metric's unit) into display units.
    """
    _shade_window(ax, window_s)
    ax.plot(points["t_s"], points["value"], marker=".", label="measured")
    peak = float(points["value"].max()) if len(points) else 0.0
    target_lines(ax, target, scale, peak)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(label)
    if zero_based:
        _zero_based(ax, peak)
    ax.legend(loc="best")


def plot_series_lines(
    ax: Axes,
    series: dict[str, pd.DataFrame],
    ylabel: str,
    window_s: tuple[float, float] | None = None,
) -> None:
    """Several series (``t_s``, ``value``) on one axes, each labelled with its name."""
    _shade_window(ax, window_s)
    for name, points in series.items():
        ax.plot(points["t_s"], points["value"], marker=".", label=safe_label(name))
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(ylabel)
    peaks = [float(p["value"].max()) for p in series.values() if len(p)]
    _zero_based(ax, max(peaks, default=0.0))
    ax.legend(loc="best")


def plot_trend(
    ax: Axes,
    trend: pd.DataFrame,
    ylabel: str,
    tick_labels: Sequence[str],
    target: Target | None = None,
    scale: float = 1.0,
) -> None:
    """One figure across runs: ``position``, ``value``, ``status`` and ``regression`` columns.

    Points are coloured by run status; a regression gets a red ring.
    """
    known = trend[trend["value"].notna()]
    ax.plot(known["position"], known["value"], color="tab:gray", linewidth=1)
    for status, group in known.groupby("status"):
        color = STATUS_COLORS.get(str(status), "tab:purple")
        ax.scatter(group["position"], group["value"], color=color, label=str(status), zorder=3)
    flagged = known[known["regression"]]
    if len(flagged):
        ax.scatter(
            flagged["position"],
            flagged["value"],
            s=160,
            facecolors="none",
            edgecolors=TARGET_COLOR,
            linewidths=2,
            label="regression",
            zorder=4,
        )
    peak = float(known["value"].max()) if len(known) else 0.0
    target_lines(ax, target, scale, peak)
    step = max(1, math.ceil(len(trend) / MAX_TREND_TICKS))
    shown = trend.iloc[::step]
    labels = [safe_label(t) for t in list(tick_labels)[::step]]
    ax.set_xticks(list(shown["position"]), labels, rotation=30, ha="right")
    ax.set_xlim(-0.5, max(len(trend) - 0.5, 0.5))
    ax.set_ylabel(ylabel)
    _zero_based(ax, peak)
    if len(known):
        ax.legend(loc="best", ncols=2)


__all__ = [
    "STYLE",
    "nines_label",
    "plot_errors_over_time",
    "plot_latency_over_time",
    "plot_latency_spectrum",
    "plot_series_lines",
    "plot_server_metric",
    "plot_throughput",
    "plot_trend",
    "safe_label",
    "target_lines",
]
