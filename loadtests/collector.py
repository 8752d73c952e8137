"""Server-side series from Prometheus for the run window: tidy rows and the queries behind them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.schema import QUERIES_FILE, SERIES_COLUMNS, SERIES_FILE

# Harness metric -> PromQL for a target that exposes standard process metrics under a job.
DEFAULT_QUERIES = {
    "memory_bytes": 'process_resident_memory_bytes{{job="{job}"}}',
    "cpu_percent": 'rate(process_cpu_seconds_total{{job="{job}"}}[5s]) * 100',
}

RangeQuery = Callable[[str, datetime, datetime, float], list[dict[str, Any]]]


def prometheus_range_query(url: str, timeout_s: float = 10.0) -> RangeQuery:
    """A query_range function backed by prometheus-api-client against ``url``."""
    from prometheus_api_client import PrometheusConnect

    client = PrometheusConnect(url=url, disable_ssl=True, timeout=timeout_s)

    def query(promql: str, start: datetime, end: datetime, step_s: float) -> list[dict[str, Any]]:
        return client.custom_query_range(
            promql, start_time=start, end_time=end, step=f"{step_s:g}s"
        )

    return query


@dataclass(frozen=True)
class Collected:
    """Tidy series and one record a query (what was asked, what came back)."""

    series: pd.DataFrame
    queries: list[dict[str, Any]]


def collect_range(
    queries: dict[str, str],
    start_s: float,
    end_s: float,
    step_s: float,
    query: RangeQuery,
) -> Collected:
    """Run each PromQL over [start_s, end_s]; an error becomes a recorded outcome, not a crash."""
    start = datetime.fromtimestamp(start_s, UTC)
    end = datetime.fromtimestamp(end_s, UTC)
    rows: list[tuple[float, str, str, str, float]] = []
    records: list[dict[str, Any]] = []
    for metric, promql in queries.items():
        record: dict[str, Any] = {
            "metric": metric,
            "source": "prometheus",
            "query": promql,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "step_s": step_s,
            "status": "ok",
            "error": None,
            "points": 0,
        }
        try:
            result = query(promql, start, end, step_s)
        except Exception as exc:  # noqa: BLE001 - any failure is reported as NO DATA later
            record.update(status="error", error=f"{type(exc).__name__}: {exc}"[:500])
            records.append(record)
            continue
        for series in result:
            labels = json.dumps(series.get("metric", {}), sort_keys=True, separators=(",", ":"))
            for ts, value in series.get("values", []):
                rows.append((float(ts), metric, "prometheus", labels, float(value)))
                record["points"] += 1
        if record["points"] == 0:
            record.update(status="empty", error="the query returned no points in the run window")
        records.append(record)
    frame = pd.DataFrame(rows, columns=list(SERIES_COLUMNS))
    return Collected(series=frame, queries=records)


def write_collected(run_dir: Path, collected: Collected) -> None:
    """Write series.parquet and queries.json atomically."""
    series_path = run_dir / SERIES_FILE
    series_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = series_path.with_suffix(".tmp")
    collected.series.to_parquet(tmp, index=False)
    os.replace(tmp, series_path)
    queries_path = run_dir / QUERIES_FILE
    tmp = queries_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(collected.queries, indent=2))
    os.replace(tmp, queries_path)


__all__ = [
    "DEFAULT_QUERIES",
    "Collected",
    "collect_range",
    "prometheus_range_query",
    "write_collected",
]
