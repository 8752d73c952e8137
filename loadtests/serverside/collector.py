"""Server-side series from Prometheus for the run window: tidy rows and the queries behind them.

Every query is a record in queries.json whatever happens: a failure is a status with its reason
(error, empty, skipped), never a crash. Once Prometheus does not answer at all, the queries left
are recorded as not tried rather than each waiting for its own timeout.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.contract.atomic import write_atomic, write_text_atomic
from analysis.contract.schema import QUERIES_FILE, SERIES_COLUMNS, SERIES_FILE
from loadtests.errors import PrometheusError, QueryRejected
from loadtests.failures import log_unexpected
from loadtests.serverside.promapi import InstantQuery, RangeQuery

Row = tuple[float, str, str, str, float]


@dataclass(frozen=True)
class Collected:
    """Tidy series and one record a query (what was asked, what came back)."""

    series: pd.DataFrame
    queries: list[dict[str, Any]]


def labels_json(labels: dict[str, Any]) -> str:
    """Series labels as the compact, sorted JSON of the ``labels`` column."""
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


def frame(rows: list[Row]) -> pd.DataFrame:
    """Rows (timestamp_s, metric, source, labels, value) as a series frame."""
    return pd.DataFrame(rows, columns=list(SERIES_COLUMNS))


def _iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat()


def _finish(record: dict[str, Any], values: list[float]) -> None:
    record["points"] = len(values)
    if not values:
        record.update(status="empty", error="the query returned no points in the run window")
    elif all(math.isnan(v) for v in values):
        record.update(
            status="empty",
            error="the query returned only NaN values (a ratio of nothing counted in the window?)",
        )


def harness_failure(metric: str, exc: Exception) -> str:
    """A failure of the harness itself while asking for ``metric``: named, detail logged."""
    return log_unexpected(
        f"the query for {metric} failed inside the harness ({type(exc).__name__}; see harness.log)",
        exc,
    )


def _run_each(
    queries: dict[str, str],
    base: Callable[[str, str], dict[str, Any]],
    ask: Callable[[str, str], list[Row]],
) -> Collected:
    rows: list[Row] = []
    records: list[dict[str, Any]] = []
    gone = ""
    for metric, promql in queries.items():
        record = {**base(metric, promql), "status": "ok", "error": None, "points": 0}
        records.append(record)
        if gone:
            record.update(status="error", error=f"not tried: {gone}")
            continue
        try:
            got = ask(metric, promql)
        except Exception as exc:  # noqa: BLE001 - any failure is reported as NO DATA later
            error = str(exc) if isinstance(exc, PrometheusError) else harness_failure(metric, exc)
            if isinstance(exc, PrometheusError) and exc.unreachable:
                gone = error
            record.update(status="error", error=error[:500])
            continue
        rows += got
        _finish(record, [row[4] for row in got])
    return Collected(series=frame(rows), queries=records)


def collect_range(
    queries: dict[str, str],
    start_s: float,
    end_s: float,
    step_s: float,
    query: RangeQuery,
    info: dict[str, dict[str, Any]] | None = None,
) -> Collected:
    """Run each PromQL over [start_s, end_s]; ``info[metric]`` adds fields to its record."""
    start = datetime.fromtimestamp(start_s, UTC)
    end = datetime.fromtimestamp(end_s, UTC)

    def base(metric: str, promql: str) -> dict[str, Any]:
        return {
            "metric": metric,
            "source": "prometheus",
            "query": promql,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "step_s": step_s,
            **(info or {}).get(metric, {}),
        }

    def ask(metric: str, promql: str) -> list[Row]:
        return [
            (float(ts), metric, "prometheus", labels_json(series.get("metric", {})), float(value))
            for series in query(promql, start, end, step_s)
            for ts, value in series.get("values", [])
        ]

    return _run_each(queries, base, ask)


def collect_instant(
    queries: dict[str, str],
    window_start_s: float,
    at_s: float,
    query: InstantQuery,
    info: dict[str, dict[str, Any]] | None = None,
) -> Collected:
    """Evaluate each PromQL once at ``at_s`` (counters over [window_start_s, at_s])."""

    def base(metric: str, promql: str) -> dict[str, Any]:
        return {
            "metric": metric,
            "source": "prometheus",
            "query": promql,
            "start": _iso(window_start_s),
            "end": _iso(at_s),
            "step_s": None,
            **(info or {}).get(metric, {}),
        }

    def ask(metric: str, promql: str) -> list[Row]:
        return [
            (at_s, metric, "prometheus", labels_json(series.get("metric", {})), float(v))
            for series in query(promql, at_s)
            for _, v in [series.get("value") or (at_s, "NaN")]
        ]

    return _run_each(queries, base, ask)


def validate_queries(
    queries: dict[str, str], query: InstantQuery, origins: dict[str, str] | None = None
) -> str:
    """Ask Prometheus each PromQL once; raise QueryRejected when it cannot parse one.

    Returns "" when Prometheus answered, else why it did not (the run goes on without it).
    """
    for metric, promql in queries.items():
        try:
            query(promql, None)
        except PrometheusError as exc:
            if exc.unreachable:
                return str(exc)
            if exc.error_type == "bad_data":
                origin = (origins or {}).get(metric, "")
                raise QueryRejected(
                    f"metric {metric}{f' ({origin})' if origin else ''}: Prometheus rejects its "
                    f"PromQL: {exc}\n  query: {promql}\nFix the query; no load was sent."
                ) from None
    return ""


def skipped(
    queries: dict[str, str],
    reason: str,
    status: str = "skipped",
    info: dict[str, dict[str, Any]] | None = None,
) -> Collected:
    """A record for each query that was not run, with ``status`` and ``reason``."""
    records = [
        {
            "metric": metric,
            "source": "prometheus",
            "query": promql,
            **(info or {}).get(metric, {}),
            "status": status,
            "error": reason,
            "points": 0,
        }
        for metric, promql in queries.items()
    ]
    return Collected(series=frame([]), queries=records)


def merge(*parts: Collected) -> Collected:
    """One Collected from several: series concatenated, records in order."""
    frames = [p.series for p in parts if len(p.series)]
    series = pd.concat(frames, ignore_index=True) if frames else frame([])
    return Collected(series=series, queries=[r for p in parts for r in p.queries])


def _table(series: pd.DataFrame) -> pa.Table:
    # Built from numpy so that NaN stays a NaN value: pandas would write it as a null.
    arrays = [
        pa.array(series[name].to_numpy(dtype="float64"), type=pa.float64())
        if dtype == "float64"
        else pa.array([str(v) for v in series[name]], type=pa.string())
        for name, (dtype, _) in SERIES_COLUMNS.items()
    ]
    return pa.Table.from_arrays(arrays, names=list(SERIES_COLUMNS))


def write_collected(run_dir: Path, collected: Collected) -> None:
    """Write series.parquet and queries.json atomically."""
    table = _table(collected.series)
    write_atomic(run_dir / SERIES_FILE, lambda handle: pq.write_table(table, handle))
    write_text_atomic(run_dir / QUERIES_FILE, json.dumps(collected.queries, indent=2))


__all__ = [
    "Collected",
    "collect_instant",
    "collect_range",
    "frame",
    "harness_failure",
    "labels_json",
    "merge",
    "skipped",
    "validate_queries",
    "write_collected",
]
