"""Charts: ``plot_x(ax, data)`` draw onto a given Axes; ``render_charts`` owns figures and files.

Figures are built with ``matplotlib.figure.Figure`` on an Agg canvas (no pyplot, so no global
figure registry or backend switch), styled through ``rc_context`` and written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

from analysis._io import write_atomic
from analysis.schema import CHARTS_DIR

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
_WINDOW_COLOR = "tab:green"


@dataclass(frozen=True)
class ChartInputs:
    """Everything the charts draw, computed by pure functions before any figure exists."""

    per_second: pd.DataFrame
    target_stages: pd.DataFrame
    spectrum: pd.DataFrame
    server: dict[str, pd.DataFrame] = field(default_factory=dict)  # metric -> t_s, value
    window_s: tuple[float, float] | None = None


@dataclass(frozen=True)
class ChartFile:
    """A written chart: ``href`` is relative to the run directory (for the HTML page)."""

    name: str
    href: str
    path: Path
    title: str
    caption: str


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
            target_stages["t_s"], target_stages["rate_rps"], "--", color="tab:red", label="target"
        )
    ax.set_xlabel("time since load start (s)")
    ax.set_ylabel("requests per second")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right")


def plot_latency_over_time(
    ax: Axes, per_second: pd.DataFrame, window_s: tuple[float, float] | None = None
) -> None:
    """P50, P95 and P99 response time per second (by intended send time), log scale."""
    _shade_window(ax, window_s)
    for name, color in (("p50", "tab:blue"), ("p95", "tab:orange"), ("p99", "tab:red")):
        values = per_second[f"{name}_ms"].clip(lower=1e-3)
        ax.plot(per_second["t_s"], values, drawstyle="steps-post", color=color, label=name.upper())
    _log_ms_axis(ax)
    ax.set_xlabel("time since load start (s)")
    ax.set_ylabel("response time (ms)")
    ax.legend(loc="upper right", ncols=3)


def plot_latency_spectrum(ax: Axes, spectrum: pd.DataFrame) -> None:
    """Response time by percentile, the tail stretched: x is the number of nines."""
    ax.plot(spectrum["nines"], spectrum["response_ms"].clip(lower=1e-3), color="tab:purple")
    ticks = [float(t) for t in range(int(np.floor(spectrum["nines"].max())) + 1)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 - 100 * 10.0**-x:g}%"))
    _log_ms_axis(ax)
    ax.set_xlabel("percentile")
    ax.set_ylabel("response time (ms)")


def plot_server_metric(
    ax: Axes, points: pd.DataFrame, label: str, window_s: tuple[float, float] | None = None
) -> None:
    """One server series (``t_s``, ``value``) over time."""
    _shade_window(ax, window_s)
    ax.plot(points["t_s"], points["value"], marker=".", label=label)
    ax.set_xlabel("time since load start (s)")
    ax.set_ylabel(label)
    ax.set_ylim(bottom=0)


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    write_atomic(path, lambda handle: fig.savefig(handle, format="png"))


_SERVER_CHARTS = {
    "memory_bytes": ("memory", "Server memory", "memory (MB)", 1e-6),
    "cpu_percent": ("cpu", "Server CPU", "CPU (% of one core)", 1.0),
    "otlp_export_success": ("otlp", "OTLP export success", "export success (%)", 1.0),
}


def _chart_specs(inputs: ChartInputs) -> list[tuple[str, str, str, Any]]:
    """(name, title, caption, draw) for each chart there is data for."""
    w = inputs.window_s
    specs: list[tuple[str, str, str, Any]] = []
    if len(inputs.per_second):
        specs.append(
            (
                "throughput",
                "Throughput",
                "Requests sent each second (by actual send time) against the scheduled target "
                "rate; the shaded band is the judged steady window.",
                lambda ax: plot_throughput(ax, inputs.per_second, inputs.target_stages, w),
            )
        )
        specs.append(
            (
                "latency",
                "Response time over time",
                "P50, P95 and P99 response time of the requests scheduled in each second, measured "
                "from the intended send time (corrected for coordinated omission); log scale.",
                lambda ax: plot_latency_over_time(ax, inputs.per_second, w),
            )
        )
    if len(inputs.spectrum):
        specs.append(
            (
                "latency-percentiles",
                "Response time by percentile",
                "Response time distribution in the judged window, the tail stretched out "
                "(each step right is one more nine); the last point is the maximum.",
                lambda ax: plot_latency_spectrum(ax, inputs.spectrum),
            )
        )
    for metric, points in inputs.server.items():
        name, title, label, scale = _SERVER_CHARTS.get(metric, (metric, metric, metric, 1.0))
        if len(points):
            scaled = points.assign(value=points["value"] * scale)
            specs.append(
                (
                    name,
                    title,
                    f"{title} as collected for this run ({metric}); "
                    "the shaded band is the judged window.",
                    lambda ax, p=scaled, lb=label: plot_server_metric(ax, p, lb, w),
                )
            )
    return specs


def render_charts(inputs: ChartInputs, out_dir: Path) -> list[ChartFile]:
    """Draw each chart there is data for into ``out_dir`` (PNG, atomic); return what was written."""
    files: list[ChartFile] = []
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        for name, title, caption, draw in _chart_specs(inputs):
            fig = Figure()
            try:
                ax = fig.add_subplot()
                draw(ax)
                ax.set_title(title)
                path = out_dir / f"{name}.png"
                _save(fig, path)
            finally:
                fig.clear()
            files.append(ChartFile(name, f"{CHARTS_DIR}/{name}.png", path, title, caption))
    return files


__all__ = [
    "STYLE",
    "ChartFile",
    "ChartInputs",
    "plot_latency_over_time",
    "plot_latency_spectrum",
    "plot_server_metric",
    "plot_throughput",
    "render_charts",
]
