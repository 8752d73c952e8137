"""The run's charts: which to draw, their captions and number tables, and the one figure composer.

Figures are built with ``matplotlib.figure.Figure`` on an Agg canvas (no pyplot, so no global
figure registry or backend switch), styled through ``rc_context`` and written atomically. Every
chart carries a table of the numbers it draws, for the report's ``<details>`` under the chart.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.contract.atomic import write_atomic
from analysis.contract.schema import CHARTS_DIR
from analysis.outputs.chartdata import ChartInputs, unit_of
from analysis.outputs.chartspec import (
    ChartFile,
    ChartSpec,
    ChartTable,
    Draw,
    frame_table,
    num_text,
)
from analysis.outputs.memorychart import plot_memory_fit
from analysis.outputs.plots import (
    STYLE,
    nines_label,
    plot_errors_over_time,
    plot_latency_over_time,
    plot_latency_spectrum,
    plot_series_lines,
    plot_server_metric,
    plot_throughput,
)
from analysis.outputs.streamcharts import stream_spec

Store = Callable[[str, bytes], tuple[str, "Path | None"]]  # (name, PNG) -> (href, file or None)
_num, _table = num_text, frame_table  # short local names for the many tables below


def _throughput_table(inputs: ChartInputs) -> ChartTable:
    frame = inputs.per_second
    stages = inputs.target_stages
    target = np.full(len(frame), math.nan)
    if len(stages):
        t = frame["t_s"].to_numpy()
        inside = (t >= stages["t_s"].min()) & (t <= stages["t_s"].max())
        target[inside] = np.interp(t[inside], stages["t_s"], stages["rate_rps"])
    frame = frame.assign(target_rps=target)
    return _table(
        frame, [("t_s", "second", 0), ("rate_rps", "sent (req/s)", 0), ("target_rps", "target", 1)]
    )


def _spectrum_table(spectrum: pd.DataFrame) -> ChartTable:
    rows = [
        [
            "max" if p == 100.0 else nines_label(n),
            _num(r),
            _num(s),
        ]
        for n, p, r, s in spectrum.loc[
            spectrum["marked"], ["nines", "percentile", "response_ms", "service_ms"]
        ].itertuples(index=False)
    ]
    return ChartTable(["percentile", "response time (ms)", "service time (ms)"], rows)


def _wide_table(series: dict[str, pd.DataFrame]) -> ChartTable:
    """One row a timestamp, one column a series."""
    frames = [p.set_index("t_s")["value"].rename(name) for name, p in series.items()]
    wide = pd.concat(frames, axis=1).sort_index().reset_index(names="t_s")
    return _table(wide, [("t_s", "t (s)", 1)] + [(name, name, 3) for name in series])


_SERVER = {  # metric -> name, title, axis label, display scale, zero-based axis
    "memory_bytes": ("memory", "Server memory", "memory (MB)", 1e-6, True),
    "cpu_percent": ("cpu", "Server CPU", "CPU (% of one core)", 1.0, True),
    "otlp_export_success": ("otlp", "OTLP export success", "export success (%)", 1.0, False),
}


def _server_draw(
    points: pd.DataFrame,
    label: str,
    w: tuple[float, float] | None,
    metric: str,
    inputs: ChartInputs,
) -> Draw:
    _, _, _, scale, zero = _SERVER[metric]
    target = inputs.targets.get(metric)
    fit = inputs.memory_fit if metric == "memory_bytes" else None

    def draw(ax: Axes) -> None:
        plot_server_metric(ax, points, label, w, target, scale, zero)
        if fit is not None:
            plot_memory_fit(ax, fit)

    return draw


def _server_specs(inputs: ChartInputs) -> list[ChartSpec]:
    specs = []
    for metric, (name, title, label, scale, _) in _SERVER.items():
        points = inputs.server.get(metric)
        if points is None or len(points) < 2:
            reason = f"no {metric} series in this run"
            if points is not None and len(points) == 1:
                reason = f"{metric} is a single value for the whole window (in the verdicts)"
            specs.append(ChartSpec(name, title, "", skipped=reason))
            continue
        shown = points.assign(value=points["value"] * scale)
        caption = (
            f"{title} over time as collected ({metric}), with the target line where it fits; "
            "the shaded band is the judged window."
        )
        if metric == "memory_bytes" and inputs.memory_fit is not None:
            caption += (
                " The orange line is the leak verdict's fit from where memory is steady (dotted)."
            )
        draw = _server_draw(shown, label, inputs.window_s, metric, inputs)
        table = _table(shown, [("t_s", "t (s)", 1), ("value", label, 3)])
        specs.append(ChartSpec(name, title, caption, draw, table))
    return specs


def _otlp_specs(inputs: ChartInputs) -> list[ChartSpec]:
    """One chart a unit of the OTLP series (accepted, refused, forward success, bytes ...)."""
    title = "OTLP accepted vs refused"
    if not inputs.otlp:
        reason = "no OTLP series over time in this run (besides the judged export success)"
        return [ChartSpec("otlp-series", title, "", skipped=reason)]
    by_unit: dict[str, dict[str, pd.DataFrame]] = {}
    for name, points in inputs.otlp.items():
        by_unit.setdefault(unit_of(name.split(" ")[0]), {})[name] = points
    specs = []
    for i, (unit, series) in enumerate(sorted(by_unit.items())):
        named = any(word in n for n in series for word in ("accepted", "refused"))
        chart_title = (title if named else "OTLP series") + (f" ({unit})" if unit else "")
        caption = (
            "OTLP series collected for this run, named as in prometheus/series.parquet, "
            f"{f'in {unit}' if unit else 'as collected'}; the shaded band is the judged window."
        )
        ylabel = unit or "value as collected"

        def draw(ax: Axes, s: dict[str, pd.DataFrame] = series, y: str = ylabel) -> None:
            plot_series_lines(ax, s, y, inputs.window_s)

        name = "otlp-series" if i == 0 else f"otlp-series-{i + 1}"
        specs.append(ChartSpec(name, chart_title, caption, draw, _wide_table(series)))
    return specs


def _errors_spec(inputs: ChartInputs) -> ChartSpec:
    title = "Errors over time"
    errors = inputs.errors
    if len(errors.columns) <= 1:
        reason = "no request failed in this run" if len(inputs.per_second) else "no samples"
        return ChartSpec("errors", title, "", skipped=reason)
    columns = [c for c in errors.columns if c != "t_s"]
    rows = errors[errors[columns].sum(axis=1) > 0]
    table = _table(rows, [("t_s", "second", 0)] + [(c, c, 0) for c in columns])
    caption = (
        "Failed requests each second (by intended send time), stacked by request kind and error "
        "class; only seconds with a failure are tabled."
    )
    return ChartSpec(
        "errors",
        title,
        caption,
        lambda ax: plot_errors_over_time(ax, errors, inputs.window_s),
        table,
    )


def chart_specs(inputs: ChartInputs) -> list[ChartSpec]:
    """The run's charts in page order; those without data carry the reason they are skipped."""
    w, ps = inputs.window_s, inputs.per_second
    if not len(ps):
        return [ChartSpec("throughput", "Achieved vs target rate", "", skipped="no samples")]
    latency_columns = [("t_s", "second", 0), ("requests", "requests", 0)]
    latency_columns += [(f"{p}_ms", f"{p.upper()} (ms)", 3) for p in ("p50", "p95", "p99")]
    stalls = inputs.stalls_s
    stall_text = (
        f" Grey bands: the generator's own {len(stalls)} stall(s); the requests due then carry "
        "its pause in their latency (see Generator stalls)."
        if stalls
        else ""
    )
    specs = [
        ChartSpec(
            "throughput",
            "Achieved vs target rate",
            "Requests sent each second (by actual send time) against the scheduled target "
            "rate; the shaded band is the judged steady window.",
            lambda ax: plot_throughput(ax, ps, inputs.target_stages, w),
            _throughput_table(inputs),
        ),
        ChartSpec(
            "latency",
            "P50, P95 and P99 over time",
            "Response time of the requests scheduled in each second, measured from the intended "
            "send time (corrected for coordinated omission); log scale." + stall_text,
            lambda ax: plot_latency_over_time(ax, ps, w, stalls),
            _table(ps, latency_columns),
        ),
    ]
    if len(inputs.spectrum):
        specs.append(
            ChartSpec(
                "latency-percentiles",
                "Latency by percentile",
                "The latency distribution of the judged window, HdrHistogram style: each step "
                "right is one more nine (90 %, 99 %, 99.9 % ...); response time counts from the "
                "intended send time, service time from the actual send; the last point is the "
                "maximum. Log scales.",
                lambda ax: plot_latency_spectrum(ax, inputs.spectrum),
                _spectrum_table(inputs.spectrum),
            )
        )
    if inputs.streams:  # runs that stream nothing do not mention streaming at all
        specs.append(stream_spec(inputs.streams))
    return specs + [_errors_spec(inputs), *_server_specs(inputs), *_otlp_specs(inputs)]


def file_store(out_dir: Path, href_dir: str) -> Store:
    """Keep each PNG as ``out_dir/<name>.png`` (atomic), linked as ``href_dir/<name>.png``."""

    def store(name: str, png: bytes) -> tuple[str, Path | None]:
        def write(handle: BinaryIO) -> None:
            handle.write(png)

        path = write_atomic(out_dir / f"{name}.png", write)
        return f"{href_dir}/{name}.png", path

    return store


def inline_store(name: str, png: bytes) -> tuple[str, Path | None]:
    """Keep a PNG inside the page as a data: URI (no file)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii"), None


def render_figures(specs: Sequence[ChartSpec], store: Store) -> list[ChartFile]:
    """The one composer: draw each spec on a new Agg figure, pass its PNG to ``store``, free it."""
    files: list[ChartFile] = []
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        for spec in specs:
            if spec.draw is None and spec.draw_panels is None:
                files.append(
                    ChartFile(spec.name, "", None, spec.title, spec.caption, skipped=spec.skipped)
                )
                continue
            fig = Figure(figsize=spec.size_in) if spec.size_in else Figure()
            try:
                FigureCanvasAgg(fig)
                if spec.draw_panels is not None:
                    spec.draw_panels(list(fig.subplots(spec.panels, 1, squeeze=False)[:, 0]))
                    fig.tight_layout()
                elif spec.draw is not None:
                    ax = fig.add_subplot()
                    spec.draw(ax)
                    ax.set_title(spec.title)
                buffer = io.BytesIO()
                fig.savefig(buffer, format="png")
            finally:
                fig.clear()
            href, path = store(spec.name, buffer.getvalue())
            files.append(ChartFile(spec.name, href, path, spec.title, spec.caption, spec.table))
    return files


def render_charts(inputs: ChartInputs, out_dir: Path) -> list[ChartFile]:
    """Draw the run's charts into ``out_dir``; skipped charts come back with their reason."""
    return render_figures(chart_specs(inputs), file_store(out_dir, CHARTS_DIR))


__all__ = [
    "ChartFile",
    "ChartInputs",
    "ChartSpec",
    "ChartTable",
    "chart_specs",
    "render_charts",
    "file_store",
    "inline_store",
    "render_figures",
]
