"""Server-side measurements from the tidy Prometheus series of a run, within the judged window."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from analysis.measure import US_PER_S, Measured, Window, nearest_rank_index

SERVER_METRICS = ("memory_bytes", "cpu_percent", "otlp_export_success")
# How several label sets of one metric combine at a timestamp: memory and CPU of several
# processes add up; a success percentage cannot be summed, so the worst series decides.
_COMBINE = {"memory_bytes": "sum", "cpu_percent": "sum", "otlp_export_success": "min"}


@dataclass(frozen=True)
class ServerMeasurements:
    """Server measurements in the judged window; NaN values carry a reason."""

    memory_max_bytes: Measured
    cpu_mean_percent: Measured
    cpu_p95_percent: Measured
    otlp_success_percent: Measured


def query_source(queries: tuple[dict[str, Any], ...], metric: str) -> tuple[str, str]:
    """(source text, problem) of the query behind ``metric``: its PromQL, and why it gave no data.

    ``problem`` is empty for a query that succeeded, else its error (or status) from queries.json.
    """
    records = [q for q in queries if q.get("metric") == metric]
    for record in records:
        if record.get("status", "ok") == "ok":
            return _source_text(record), ""
    for record in records:
        status, error = record.get("status"), record.get("error")
        return _source_text(record), str(error) if error else f"status {status}"
    return "", ""


def _source_text(record: dict[str, Any]) -> str:
    source, query = str(record.get("source") or "prometheus"), str(record.get("query") or "")
    return query if source == "prometheus" else f"{source}: {query}"


def metric_points(series: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One value per timestamp for ``metric`` (``timestamp_s``, ``value``), NaN values dropped.

    Prometheus beats another source when both exist; several label sets combine per ``_COMBINE``.
    """
    rows = series[series["metric"] == metric]
    if rows.empty:
        return pd.DataFrame({"timestamp_s": [], "value": []}, dtype="float64")
    sources = set(rows["source"])
    if len(sources) > 1 and "prometheus" in sources:
        rows = rows[rows["source"] == "prometheus"]
    rows = rows[rows["value"].notna()]
    how = _COMBINE.get(metric, "mean")
    combined = rows.groupby("timestamp_s", sort=True)["value"].agg(how)
    return pd.DataFrame({"timestamp_s": combined.index.to_numpy(), "value": combined.to_numpy()})


def _missing_reason(
    metric: str, has_series: bool, series: pd.DataFrame, queries: tuple[dict[str, Any], ...]
) -> str:
    source, problem = query_source(queries, metric)
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


def measure_server(
    series: pd.DataFrame,
    queries: tuple[dict[str, Any], ...],
    window: Window | None,
    has_series: bool = True,
) -> ServerMeasurements:
    """Memory max, CPU mean and P95, OTLP export success of the judged window."""
    results: dict[str, Measured] = {}
    for metric in SERVER_METRICS:
        source, _ = query_source(queries, metric)
        points = metric_points(series, metric)
        source = source or (f"{metric} series" if len(points) else "")
        if points.empty:
            nan = Measured(math.nan, source, _missing_reason(metric, has_series, series, queries))
            results[metric] = results[f"{metric}:p95"] = nan
            continue
        if metric == "otlp_export_success" and len(points) == 1:
            results[metric] = Measured(float(points["value"].iloc[0]), source + " (instant)")
            continue
        if window is None:
            results[metric] = results[f"{metric}:p95"] = Measured(
                math.nan, source, "no judged window"
            )
            continue
        values = _in_window(points, window)
        if len(values) == 0:
            reason = f"none of the {len(points)} {metric} points lie in the steady window"
            results[metric] = results[f"{metric}:p95"] = Measured(math.nan, source, reason)
            continue
        if metric == "memory_bytes":
            results[metric] = Measured(float(values.max()), source)
        elif metric == "cpu_percent":
            ordered = np.sort(values)
            p95 = ordered[int(nearest_rank_index(len(ordered), Fraction(19, 20)))]
            results[metric] = Measured(float(values.mean()), source)
            results[f"{metric}:p95"] = Measured(float(p95), source)
        else:
            results[metric] = Measured(float(values[-1]), source)
    return ServerMeasurements(
        memory_max_bytes=results["memory_bytes"],
        cpu_mean_percent=results["cpu_percent"],
        cpu_p95_percent=results["cpu_percent:p95"],
        otlp_success_percent=results["otlp_export_success"],
    )


__all__ = [
    "SERVER_METRICS",
    "ServerMeasurements",
    "measure_server",
    "metric_points",
    "query_source",
]
