"""Server-side measurements from the tidy series of a run, within the judged window.

Each metric is taken from its most trusted source (``SERIES_SOURCES``: Prometheus pulled after
the run, then the process sampler, then Prometheus polled live), and the measurement's source
text says how it was reduced and which query or sampler is behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from analysis.contract.schema import SERIES_METRIC_UNITS, SERIES_SOURCES
from analysis.measuring.client import US_PER_S, Measured, Window, nearest_rank_index
from analysis.measuring.otlp import COUNT_METRICS, OtlpDelivery, has_counts, measure_otlp

SERVER_METRICS = ("memory_bytes", "cpu_percent", "otlp_export_success")
# How several label sets of one metric combine at a timestamp: memory, CPU, rates and bytes of
# several processes or series add up; a success share cannot be summed, so the worst series
# decides; of several latency series the slowest counts.
_COMBINE = {
    "memory_bytes": "sum",
    "cpu_percent": "sum",
    "otlp_export_success": "min",
    "otlp_forward_success": "min",
    "otlp_bytes_per_s": "sum",
    "agent_request_rate_rps": "sum",
    "agent_latency_p50_ms": "max",
    "agent_latency_p95_ms": "max",
    "agent_latency_p99_ms": "max",
    "cache_hit_percent": "min",
}
_SOURCE_NAMES = {
    "prometheus": "prometheus",
    "process": "process sampler",
    "prometheus-live": "prometheus-live (polled during the run)",
}
# Failures of these sources leave the server-side record incomplete; live polls are a guard.
_REQUIRED_SOURCES = ("prometheus", "process")


@dataclass(frozen=True)
class ServerMeasurements:
    """Server measurements in the judged window; NaN values carry a reason.

    ``others`` holds the profile's further metrics (mean over the steady window for a series,
    the value for a whole-window counter); ``problems`` lists failed queries and samplers;
    ``otlp`` the per-signal item counts behind OTLP export success, when the run has them.
    """

    memory_max_bytes: Measured
    cpu_mean_percent: Measured
    cpu_p95_percent: Measured
    otlp_success_percent: Measured
    others: dict[str, Measured] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    otlp: OtlpDelivery | None = None


def _rank(source: str) -> int:
    return SERIES_SOURCES.index(source) if source in SERIES_SOURCES else len(SERIES_SOURCES)


def chosen_source(series: pd.DataFrame, metric: str) -> str | None:
    """The most trusted source with a value for ``metric``, None when there is none."""
    rows = series[(series["metric"] == metric) & series["value"].notna()]
    sources = sorted({str(s) for s in rows["source"]}, key=lambda s: (_rank(s), s))
    return sources[0] if sources else None


def metric_points(series: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One value per timestamp for ``metric`` (``timestamp_s``, ``value``), NaN values dropped.

    Only the chosen source's rows count; several label sets combine per ``_COMBINE``.
    """
    source = chosen_source(series, metric)
    if source is None:
        return pd.DataFrame({"timestamp_s": [], "value": []}, dtype="float64")
    rows = series[(series["metric"] == metric) & (series["source"] == source)]
    rows = rows[rows["value"].notna()]
    combined = rows.groupby("timestamp_s", sort=True)["value"].agg(_COMBINE.get(metric, "mean"))
    return pd.DataFrame({"timestamp_s": combined.index.to_numpy(), "value": combined.to_numpy()})


def _records(
    queries: tuple[dict[str, Any], ...], metric: str, source: str | None = None
) -> list[dict[str, Any]]:
    records = [
        q
        for q in queries
        if q.get("metric") == metric and (source is None or q.get("source", "prometheus") == source)
    ]
    return sorted(records, key=lambda q: _rank(str(q.get("source") or "prometheus")))


def _source_text(record: dict[str, Any]) -> str:
    source = str(record.get("source") or "prometheus")
    return f"{_SOURCE_NAMES.get(source, source)}: {record.get('query') or ''}"


def query_source(
    queries: tuple[dict[str, Any], ...], metric: str, source: str | None = None
) -> tuple[str, str]:
    """(source text, problem) of the query behind ``metric``, of ``source`` if given.

    ``problem`` is empty for a query that succeeded, else its error (or status) from queries.json.
    """
    records = _records(queries, metric, source)
    for record in records:
        if record.get("status", "ok") == "ok":
            return _source_text(record), ""
    for record in records:
        status, error = record.get("status"), record.get("error")
        return _source_text(record), str(error) if error else f"status {status}"
    return "", ""


def collection_problems(queries: tuple[dict[str, Any], ...]) -> tuple[str, ...]:
    """Failed queries and samplers, one line per distinct error with the metrics it hit."""
    by_error: dict[tuple[str, str], list[str]] = {}
    for record in queries:
        source = str(record.get("source") or "prometheus")
        if record.get("status") != "error" or source not in _REQUIRED_SOURCES:
            continue
        error = str(record.get("error") or "failed").removeprefix("not tried: ")
        by_error.setdefault((source, error), []).append(str(record.get("metric")))
    return tuple(
        f"{', '.join(metrics)} ({_SOURCE_NAMES[source]}): {error}"
        for (source, error), metrics in by_error.items()
    )


def _missing_reason(
    metric: str, has_series: bool, series: pd.DataFrame, queries: tuple[dict[str, Any], ...]
) -> str:
    source, problem = query_source(queries, metric)
    problem = problem.removeprefix("not tried: ")
    if problem.startswith("Prometheus at "):  # one sentence naming it and its address already
        return problem
    if problem:
        return f"the query for {metric} gave no data: {problem}"
    if not has_series:
        return "no prometheus/series.parquet in the run directory (no Prometheus for this run?)"
    if (series["metric"] == metric).any():
        return f"the {metric} series has only NaN values"
    if source:
        return f"the query for {metric} returned no data"
    return f"no {metric} series in prometheus/series.parquet"


def _in_window(points: pd.DataFrame, window: Window) -> np.ndarray:
    t_us = points["timestamp_s"].to_numpy() * US_PER_S
    values = points["value"].to_numpy()
    return np.asarray(values[(t_us >= window.start_us) & (t_us <= window.end_us)])


def _measure(
    metric: str,
    series: pd.DataFrame,
    queries: tuple[dict[str, Any], ...],
    window: Window | None,
    has_series: bool,
) -> tuple[Measured, Measured]:
    """(the value judged, CPU's P95 or a copy) for one metric."""
    points = metric_points(series, metric)
    if points.empty:
        reason = _missing_reason(metric, has_series, series, queries)
        nan = Measured(math.nan, query_source(queries, metric)[0], reason)
        return nan, nan
    source = chosen_source(series, metric) or ""
    text, _ = query_source(queries, metric, source)
    text = text or f"{_SOURCE_NAMES.get(source, source)}: {metric} series"
    records = _records(queries, metric, source)
    counter = bool(records) and records[0].get("kind") == "counter"
    if counter or (metric == "otlp_export_success" and len(points) == 1):
        value = Measured(
            float(points["value"].iloc[-1]), f"over the run window (instant) of {text}"
        )
        return value, value
    if window is None:
        nan = Measured(math.nan, text, "no judged window")
        return nan, nan
    values = _in_window(points, window)
    if len(values) == 0:
        reason = f"none of the {len(points)} {metric} points lie in the steady window"
        nan = Measured(math.nan, text, reason)
        return nan, nan
    if metric == "memory_bytes":
        value = Measured(float(values.max()), f"max over the steady window of {text}")
        return value, value
    if metric == "cpu_percent":
        ordered = np.sort(values)
        p95 = float(ordered[int(nearest_rank_index(len(ordered), Fraction(19, 20)))])
        how = f"mean over the steady window (the verdict is on the mean; P95 {p95:.3g} %) of"
        return (
            Measured(float(values.mean()), f"{how} {text}"),
            Measured(p95, f"P95 over the steady window of {text}"),
        )
    if metric in SERVER_METRICS:
        value = Measured(float(values[-1]), f"last value in the steady window of {text}")
        return value, value
    value = Measured(float(values.mean()), f"mean over the steady window of {text}")
    return value, value


def measure_server(
    series: pd.DataFrame,
    queries: tuple[dict[str, Any], ...],
    window: Window | None,
    has_series: bool = True,
) -> ServerMeasurements:
    """Memory max, CPU mean and P95, OTLP export success, the other metrics, the problems."""
    results = {m: _measure(m, series, queries, window, has_series) for m in SERVER_METRICS}
    present = set(series["metric"]) | {str(q.get("metric")) for q in queries}
    counts = set(COUNT_METRICS.values())
    others = {
        metric: _measure(metric, series, queries, window, has_series)[0]
        for metric in SERIES_METRIC_UNITS
        if metric in present and metric not in SERVER_METRICS and metric not in counts
    }
    otlp_success = results["otlp_export_success"][0]
    otlp = None
    # A query of its own for the share (a scenario override, an older run) is judged as it
    # computes it; otherwise the share is computed from the item counts.
    if "otlp_export_success" not in present and has_counts(series, queries):
        otlp = measure_otlp(series, queries)
        otlp_success = otlp.measured
        if not otlp_success.ok and not otlp.signals:
            metric = COUNT_METRICS["produced" if "otlp_produced_items" in present else "accepted"]
            reason = _missing_reason(metric, has_series, series, queries)
            otlp_success = Measured(math.nan, otlp_success.source, reason)
    return ServerMeasurements(
        memory_max_bytes=results["memory_bytes"][0],
        cpu_mean_percent=results["cpu_percent"][0],
        cpu_p95_percent=results["cpu_percent"][1],
        otlp_success_percent=otlp_success,
        others=others,
        problems=collection_problems(queries),
        otlp=otlp,
    )


__all__ = [
    "SERVER_METRICS",
    "ServerMeasurements",
    "chosen_source",
    "collection_problems",
    "measure_server",
    "metric_points",
    "query_source",
]
