"""The run directory contract: file names and columns shared by loadtests (writer) and analysis.

A run directory ``reports/<UTC stamp>-<scenario>/`` holds:

- ``scenario.yaml``: the scenario as resolved (defaults and overrides applied, no secrets).
- ``metadata.json``: see ``METADATA_KEYS``; the load window lives under ``load``.
- ``samples/part-NNNNN.parquet``: raw request samples, one row a request, ``SAMPLE_COLUMNS``.
  All times are integer microseconds since the Unix epoch.
- ``prometheus/series.parquet``: tidy server-side series, ``SERIES_COLUMNS``.
- ``prometheus/queries.json``: one entry a query: metric, source, query, window, step, outcome.
- ``summary.json``, ``index.html``, ``charts/*.png``: written by analysis.
"""

from __future__ import annotations

SCENARIO_FILE = "scenario.yaml"
METADATA_FILE = "metadata.json"
SAMPLES_DIR = "samples"
SAMPLE_PART_GLOB = "part-*.parquet"
PROM_DIR = "prometheus"
SERIES_FILE = "prometheus/series.parquet"
QUERIES_FILE = "prometheus/queries.json"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "index.html"
CHARTS_DIR = "charts"

# name -> (arrow/pandas dtype, meaning). Times are epoch microseconds (int64).
SAMPLE_COLUMNS: dict[str, tuple[str, str]] = {
    "intended_us": ("int64", "when the request should have left, by the arrival schedule"),
    "sent_us": ("int64", "when the request actually left the generator"),
    "ttfb_us": ("int64", "when the response headers arrived; -1 when none arrived"),
    "done_us": ("int64", "when the response body was read or the request failed"),
    "status": ("int32", "HTTP status code; 0 when no response arrived"),
    "kind": ("string", "request kind from the scenario mix (chat, health, ...)"),
    "model": ("string", "model asked for; empty for non-chat requests"),
    "error": ("string", "empty when the request succeeded, else a short error class"),
    "bytes": ("int64", "response body bytes received"),
    "cache": ("string", "X-Cache-Status response header (HIT, MISS, ...) or empty"),
    "worker": ("int32", "index of the load generator process that sent it"),
}

SERIES_COLUMNS: dict[str, tuple[str, str]] = {
    "timestamp_s": ("float64", "sample time, seconds since the Unix epoch"),
    "metric": ("string", "harness metric name (memory_bytes, cpu_percent, ...)"),
    "source": ("string", "where the value came from: prometheus or process"),
    "labels": ("string", "the series labels as compact JSON"),
    "value": ("float64", "the value, in the unit of the metric name"),
}

# metadata.json keys written by the run orchestrator.
METADATA_KEYS = (
    "harness_version",  # str
    "git_sha",  # str | None
    "host",  # machine that ran the generator
    "target",  # base URL the load went to
    "embedded",  # bool: the embedded stand-in stack was used
    "prometheus_url",  # str | None
    "started_utc",  # ISO 8601
    "ended_utc",  # ISO 8601
    "outcome",  # "completed" | "interrupted" | "aborted"
    "load",  # {"start_us", "ramp_s", "steady_s", "rate_rps", "arrival", "workers"}
    "generator",  # {"cpu_s", "wall_s", "max_concurrency", "cap_waits", ...}
    "notes",  # list[str]: what happened that a reader must know
)

VERDICT_METRICS = (
    "request_rate_rps",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "error_rate",
    "memory_bytes",
    "cpu_percent",
    "otlp_export_success",
)

# Units of each verdict metric as judged and shown.
VERDICT_UNITS = {
    "request_rate_rps": "req/s",
    "latency_p50_ms": "ms",
    "latency_p95_ms": "ms",
    "latency_p99_ms": "ms",
    "error_rate": "%",
    "memory_bytes": "bytes",
    "cpu_percent": "%",
    "otlp_export_success": "%",
}

__all__ = [
    "CHARTS_DIR",
    "METADATA_FILE",
    "METADATA_KEYS",
    "PROM_DIR",
    "QUERIES_FILE",
    "REPORT_FILE",
    "SAMPLES_DIR",
    "SAMPLE_COLUMNS",
    "SAMPLE_PART_GLOB",
    "SCENARIO_FILE",
    "SERIES_COLUMNS",
    "SERIES_FILE",
    "SUMMARY_FILE",
    "VERDICT_METRICS",
    "VERDICT_UNITS",
]
