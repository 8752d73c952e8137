"""The public surface of analysis: analyse a run directory, write its outputs, print verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis._io import write_text_atomic
from analysis.charts import ChartInputs, render_charts
from analysis.errors import RunDirError
from analysis.formatting import format_value
from analysis.measure import US_PER_S, Window, failed_mask, judged_window, measure_client
from analysis.report import build_view, render_report, write_report
from analysis.rundir import RunData, load_run
from analysis.schema import CHARTS_DIR, REPORT_FILE, SUMMARY_FILE
from analysis.server import SERVER_METRICS, measure_server, metric_points
from analysis.summary import build_summary, summary_json
from analysis.timeseries import latency_spectrum, per_second, target_rate, time_origin_us
from analysis.verdicts import (
    exit_code,
    judge,
    overall_status,
    run_warnings,
    verdict_measurements,
)


@dataclass(frozen=True)
class RunAnalysis:
    """The result of analysing one run: the summary document plus what the charts draw."""

    run_dir: Path
    summary: dict[str, Any]
    status: str
    exit_code: int
    metadata: dict[str, Any]
    charts: ChartInputs


def chart_inputs(run: RunData, window: Window | None) -> ChartInputs:
    """Per-second series, target schedule, latency spectrum and server series, on one time axis."""
    origin_us = time_origin_us(run.metadata, run.samples)
    spectrum = latency_spectrum(run.samples, window)
    if origin_us is None:
        empty = per_second(run.samples.iloc[:0], 0, failed_mask(run.samples.iloc[:0]))
        return ChartInputs(empty, target_rate(run.metadata, 0).iloc[:0], spectrum)
    server = {}
    for metric in SERVER_METRICS:
        points = metric_points(run.series, metric)
        server[metric] = points.assign(t_s=points["timestamp_s"] - origin_us / US_PER_S)
    window_s = None
    if window is not None:
        window_s = (
            (window.start_us - origin_us) / US_PER_S,
            (window.end_us - origin_us) / US_PER_S,
        )
    return ChartInputs(
        per_second=per_second(run.samples, origin_us, failed_mask(run.samples)),
        target_stages=target_rate(run.metadata, origin_us),
        spectrum=spectrum,
        server=server,
        window_s=window_s,
    )


def analyze(run: RunData) -> RunAnalysis:
    """Measure, judge and summarise a run already read into memory."""
    window = judged_window(run.metadata, run.samples)
    client = measure_client(run.samples, window)
    server = measure_server(run.series, run.queries, window, run.has_series)
    verdicts = judge(run.targets, verdict_measurements(client, server))
    status = overall_status(verdicts, run.metadata.get("outcome", "unknown"))
    warnings = run_warnings(run.metadata, client, run.targets)
    summary = build_summary(run, client, server, verdicts, status, warnings)
    return RunAnalysis(
        run.run_dir, summary, status, exit_code(status), run.metadata, chart_inputs(run, window)
    )


def analyze_run(run_dir: Path | str) -> RunAnalysis:
    """Read ``run_dir`` and analyse it; raise RunDirError when it cannot be read."""
    return analyze(load_run(run_dir))


def write_outputs(run_dir: Path | str, analysis: RunAnalysis) -> list[Path]:
    """Write summary.json, charts/*.png and index.html into ``run_dir``, each atomically."""
    run_dir = Path(run_dir)
    text = summary_json(analysis.summary)
    written = [write_text_atomic(run_dir / SUMMARY_FILE, text)]
    charts = render_charts(analysis.charts, run_dir / CHARTS_DIR)
    written += [chart.path for chart in charts]
    html = render_report(build_view(analysis.summary, charts, analysis.metadata))
    written.append(write_report(run_dir / REPORT_FILE, html))
    return written


def format_verdict_table(summary: dict[str, Any]) -> str:
    """A plain-text verdict table for the terminal; NO DATA rows show their reason."""
    head = ("metric", "target", "measured", "status")
    rows = [
        (
            str(v["metric"]),
            str(v["target"]),
            format_value(v.get("measured"), v.get("unit", "")),
            str(v["status"]) + (f"  ({v['reason']})" if v.get("reason") else ""),
        )
        for v in summary.get("verdicts") or []
    ]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row))
        for row in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in [*widths, len(head[3])]))
    if not rows:
        lines.append("(the scenario has no targets)")
    lines.append(f"{summary.get('scenario', '')}: {summary.get('status', '')}")
    return "\n".join(line.rstrip() for line in lines)


__all__ = [
    "RunAnalysis",
    "RunData",
    "RunDirError",
    "analyze",
    "analyze_run",
    "chart_inputs",
    "exit_code",
    "format_verdict_table",
    "load_run",
    "write_outputs",
]
