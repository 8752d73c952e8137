"""What the run's charts draw: pure functions of a run, computed before any figure exists."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from analysis.contract.targets import Target
from analysis.measuring.client import US_PER_S, Window
from analysis.measuring.serverside import SERVER_METRICS, metric_points
from analysis.measuring.stalls import Stalls, stall_bands_s
from analysis.measuring.streaming import stream_kinds
from analysis.measuring.sweep import SweepPlan, Swept, sweep
from analysis.measuring.tally import Histogram
from analysis.measuring.timeseries import SecondsTally, spectrum_of, target_rate, time_origin_us
from analysis.outputs.memorychart import MemoryFit
from analysis.outputs.redact import Redactor
from analysis.outputs.streamcharts import curves_from
from analysis.reading.rundir import RunData

OTLP_MARK = "otlp"  # series whose metric name contains this are OTLP export series
# Units by metric-name suffix (units are in the names), most specific first.
_UNIT_SUFFIXES = (
    ("_bytes_per_s", "bytes/s"),
    ("_per_s", "/s"),
    ("_rps", "req/s"),
    ("_percent", "%"),
    ("_success", "%"),
    ("_bytes", "bytes"),
    ("_ms", "ms"),
)


@dataclass(frozen=True)
class ChartInputs:
    """Everything the charts draw. Times ``t_s`` are seconds since the load's start."""

    per_second: pd.DataFrame
    target_stages: pd.DataFrame
    spectrum: pd.DataFrame
    server: dict[str, pd.DataFrame] = field(default_factory=dict)  # metric -> t_s, value
    window_s: tuple[float, float] | None = None
    errors: pd.DataFrame = field(default_factory=pd.DataFrame)  # t_s + one column a kind: error
    otlp: dict[str, pd.DataFrame] = field(default_factory=dict)  # "metric [labels]" -> t_s, value
    targets: dict[str, Target] = field(default_factory=dict)  # verdict metric -> target
    streams: dict[str, Histogram] = field(default_factory=dict)  # TTFT/ITL µs
    stalls_s: list[tuple[float, float]] = field(default_factory=list)  # generator stalls
    memory_fit: MemoryFit | None = None  # the leak verdict's line on the memory chart


def otlp_series(series: pd.DataFrame, origin_s: float) -> dict[str, pd.DataFrame]:
    """Every OTLP series but the export-success percentage, one frame a metric and label set.

    The name is the metric, with its labels when the metric has several label sets. When a metric
    comes from Prometheus and another source, Prometheus wins (as for the judged metrics).
    """
    mask = series["metric"].astype(str).str.contains(OTLP_MARK, case=False, regex=False)
    # Item counts are one number each over the whole window: the report's OTLP table shows them.
    counts = series["metric"].astype(str).str.endswith("_items")
    rows = series[
        mask & ~counts & (series["metric"] != "otlp_export_success") & series["value"].notna()
    ]
    out: dict[str, pd.DataFrame] = {}
    for metric, group in rows.groupby("metric", sort=True):
        if group["source"].nunique() > 1 and (group["source"] == "prometheus").any():
            group = group[group["source"] == "prometheus"]
        label_sets = sorted(set(group["labels"].astype(str)))
        for labels in label_sets:
            points = group[group["labels"] == labels].groupby("timestamp_s", sort=True)["value"]
            combined = points.mean()
            name = str(metric) if len(label_sets) == 1 else f"{metric} {_compact(labels)}"
            out[name] = pd.DataFrame(
                {"t_s": combined.index.to_numpy() - origin_s, "value": combined.to_numpy()}
            )
    return out


def unit_of(metric: str) -> str:
    """The unit a series metric name declares by its suffix; "" when it declares none."""
    return next((unit for suffix, unit in _UNIT_SUFFIXES if metric.endswith(suffix)), "")


def _compact(labels: str) -> str:
    """``{"a":"x","b":"y"}`` as ``a=x, b=y``; text that is not a JSON object stays as it is."""
    try:
        parsed = json.loads(labels)
    except ValueError:
        return labels
    if not isinstance(parsed, dict):
        return labels
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(parsed.items())) + "}"


def _redact_columns(frame: pd.DataFrame, redactor: Redactor) -> pd.DataFrame:
    return frame.rename(columns={c: redactor.text(str(c)) for c in frame.columns})


def chart_inputs(
    run: RunData,
    window: Window | None,
    redactor: Redactor | None = None,
    stalls: Stalls | None = None,
    swept: Swept | None = None,
) -> ChartInputs:
    """Per-second series, target schedule, spectra, errors, server series and the generator's
    stalls on one time axis. ``swept``: the run's sweep (without, one is made here)."""
    redactor = redactor or Redactor()
    source = run.sample_source()
    span = swept.span if swept is not None else source.span()
    origin_us = time_origin_us(run.metadata, span)
    if swept is None:
        plan = SweepPlan(window, origin_us, stream_kinds=stream_kinds(run.scenario))
        swept = sweep(source, span, plan)
    t = swept.tally
    spectrum = spectrum_of(t.histogram("response"), t.histogram("service"))
    if origin_us is None or swept.per_second is None or swept.errors is None:
        empty = SecondsTally(0).frame()
        return ChartInputs(
            empty, target_rate(run.metadata, 0).iloc[:0], spectrum, targets=dict(run.targets)
        )
    origin_s = origin_us / US_PER_S
    server = {}
    for metric in SERVER_METRICS:
        points = metric_points(run.series, metric)
        server[metric] = points.assign(t_s=points["timestamp_s"] - origin_s)
    window_s = None
    if window is not None:
        window_s = (
            (window.start_us - origin_us) / US_PER_S,
            (window.end_us - origin_us) / US_PER_S,
        )
    otlp = otlp_series(run.series, origin_s)
    return ChartInputs(
        per_second=swept.per_second,
        target_stages=target_rate(run.metadata, origin_us),
        spectrum=spectrum,
        server=server,
        window_s=window_s,
        errors=_redact_columns(swept.errors, redactor),
        otlp={redactor.text(name): frame for name, frame in otlp.items()},
        targets=dict(run.targets),
        streams=curves_from(t),
        stalls_s=stall_bands_s(stalls, origin_us) if stalls is not None else [],
    )


__all__ = ["OTLP_MARK", "ChartInputs", "chart_inputs", "otlp_series", "unit_of"]
