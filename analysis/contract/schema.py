"""The run directory contract: file names and columns shared by loadtests (writer) and analysis.

A run directory ``reports/<UTC stamp>-<scenario>/`` holds:

- ``scenario.yaml``: the scenario as resolved (defaults and overrides applied, no secrets).
- ``metadata.json``: see ``METADATA_KEYS``; the load window lives under ``load``.
- ``samples/part-NNNNN.parquet``: raw request samples, one row a request, ``SAMPLE_COLUMNS``.
  All times are integer microseconds since the Unix epoch.
- ``prometheus/series.parquet``: tidy server-side series, ``SERIES_COLUMNS``; ``metric`` is one of
  ``SERIES_METRIC_UNITS`` and ``source`` one of ``SERIES_SOURCES``.
- ``prometheus/queries.json``: one entry a query or sampler: metric, source, query (the PromQL as
  sent, or what the process sampler read), kind (gauge: a series; counter: one value over the
  whole window, evaluated at ``end``), unit, profile, start, end, step_s, status (ok / empty /
  error / skipped), error, points.
- ``summary.json``, ``index.html``, ``charts/*.png``, ``junit.xml``, ``summary.md``: written by
  analysis. The folder holding the run directories gets ``index.html`` (charts inside it).
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
JUNIT_FILE = "junit.xml"
SUMMARY_MD_FILE = "summary.md"
# In the reports folder (the parent of the run directories):
INDEX_FILE = "index.html"

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
    # Streaming (server-sent events) responses; runs written before these existed lack them.
    "first_token_us": ("int64", "when the first content token arrived; -1 when none did"),
    "last_token_us": ("int64", "when the last content token arrived; -1 when none did"),
    "tokens": ("int32", "content chunks (tokens) received in a streamed response; 0 otherwise"),
    # Timing the target reports about itself in response headers (scenario target.timing_headers).
    "upstream_us": ("int64", "upstream (provider) time the target reported; -1 when not reported"),
    "overhead_us": ("int64", "the target's own proxy overhead as it reported it; -1 when not"),
    # Set-up of the connection the request opened (still inside the latency, which runs from
    # intended_us); runs written before it existed lack it.
    "connect_us": ("int64", "TCP connect + TLS handshake time of a new connection; -1: reused"),
    # Multi-turn sessions (docs/sessions.md) and the request's size; runs written before these
    # existed lack them.
    "session": (
        "int64",
        "session number within its worker ((worker, session) names one); -1: none",
    ),
    "turn": ("int32", "turn of its session, 1 for the first; 0 for a request outside a session"),
    "session_turns": ("int32", "turns its session was to have; 0 outside a session"),
    "request_bytes": ("int64", "request body bytes sent (chat: every message so far); -1: unknown"),
    # The server's own token counts (its ``usage`` object, plain or the last chunk of a stream),
    # and the gap before each content chunk after a stream's first, as the client received them
    # (tokens − 1 gaps); runs written before these existed lack them.
    "prompt_tokens": ("int32", "usage.prompt_tokens the server reported; -1 when not reported"),
    "completion_tokens": ("int32", "usage.completion_tokens reported; -1 when not reported"),
    "cached_tokens": ("int32", "usage.prompt_tokens_details.cached_tokens; -1: not reported"),
    "chunk_gaps_us": ("list<int32>", "µs from each content chunk to the next; empty: none"),
}

# Columns a reader fills with these values when an older run directory lacks them.
SAMPLE_DEFAULTS: dict[str, int | list[int]] = {
    "first_token_us": -1,
    "last_token_us": -1,
    "tokens": 0,
    "upstream_us": -1,
    "overhead_us": -1,
    "connect_us": -1,
    "session": -1,
    "turn": 0,
    "session_turns": 0,
    "request_bytes": -1,
    "prompt_tokens": -1,
    "completion_tokens": -1,
    "cached_tokens": -1,
    "chunk_gaps_us": [],
}

SERIES_COLUMNS: dict[str, tuple[str, str]] = {
    "timestamp_s": ("float64", "sample time, seconds since the Unix epoch"),
    "metric": ("string", "harness metric name (memory_bytes, cpu_percent, ...)"),
    "source": ("string", "where the value came from, one of SERIES_SOURCES"),
    "labels": ("string", "the series labels as compact JSON"),
    "value": ("float64", "the value, in the unit of the metric name"),
}

# Server-side metrics a metric profile (scenarios/profiles/) may define: name -> unit.
SERIES_METRIC_UNITS = {
    "memory_bytes": "bytes",  # resident memory of the agent process
    "cpu_percent": "%",  # CPU of the agent process, % of one core (200 % = two cores)
    "otlp_export_success": "%",  # a profile's own share; shipped profiles give the counts below
    # OTLP items over the run window, one series a signal (label signal=traces|metrics|logs);
    # analysis/measuring/otlp.py turns them into the export success verdict.
    "otlp_produced_items": "items",  # the agent's SDK was given (spans, metric points, logs)
    "otlp_delivered_items": "items",  # exported successfully, after the SDK's retries
    "otlp_failed_items": "items",  # exports that failed after the SDK's retries
    "otlp_dropped_items": "items",  # dropped unexported by the SDK (queue full, after shutdown)
    "otlp_retried_items": "items",  # sent again by the SDK's retries
    "otlp_accepted_items": "items",  # accepted by the collector's OTLP receiver
    "otlp_refused_items": "items",  # refused attempts at the collector's receiver (per attempt)
    "otlp_forward_success": "%",  # items the collector's exporters sent / (sent + failed)
    "otlp_bytes_per_s": "bytes/s",  # OTLP bytes the collector received per second
    "agent_request_rate_rps": "req/s",  # requests the agent answered per second
    "agent_latency_p50_ms": "ms",  # quantiles of the agent's own request-duration histogram
    "agent_latency_p95_ms": "ms",
    "agent_latency_p99_ms": "ms",
    "cache_hit_percent": "%",  # cache hits / (hits + misses)
}

# Where a server-side value came from, most trusted first: Prometheus pulled after the run,
# the local process sampler, then what was polled from Prometheus while the load ran.
SERIES_SOURCES = ("prometheus", "process", "prometheus-live")

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
    # LLM serving (analysis/measuring/llm.py): streams, goodput, proxy overhead, cache, client-side
    "ttft_p50_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "itl_p95_ms",
    "itl_p99_ms",
    "itl_gap_p50_ms",
    "itl_gap_p95_ms",
    "itl_gap_p99_ms",
    "tpot_p50_ms",
    "tpot_p95_ms",
    "tpot_p99_ms",
    "e2e_p50_ms",
    "e2e_p95_ms",
    "e2e_p99_ms",
    "tokens_per_s_p50",
    "usage_output_tokens_per_s",
    "usage_decode_tokens_per_s",
    "stream_completion",
    "goodput_percent",
    "proxy_overhead_p95_ms",
    "cache_hit_percent",
    # Load shapes (analysis/shapes/staged.py): spike recovery, stress knee, soak memory growth
    "spike_recovery_s",
    "knee_rps",
    "memory_growth_mb_per_h",
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
    "ttft_p50_ms": "ms",  # time to first token, from the intended send
    "ttft_p95_ms": "ms",
    "ttft_p99_ms": "ms",
    "itl_p95_ms": "ms",  # the old name of tpot_p95_ms (a per-request mean), kept working
    "itl_p99_ms": "ms",
    "itl_gap_p50_ms": "ms",  # inter-token latency: every gap between content chunks a sample
    "itl_gap_p95_ms": "ms",
    "itl_gap_p99_ms": "ms",
    "tpot_p50_ms": "ms",  # per request: (last − first token) / (tokens − 1)
    "tpot_p95_ms": "ms",
    "tpot_p99_ms": "ms",
    "e2e_p50_ms": "ms",  # a completed stream from the intended send to its end
    "e2e_p95_ms": "ms",
    "e2e_p99_ms": "ms",
    "tokens_per_s_p50": "tokens/s",  # per request: tokens / service time; a floor ("> 20")
    "usage_output_tokens_per_s": "tokens/s",  # server-counted completion tokens / window
    "usage_decode_tokens_per_s": "tokens/s",  # Σ(tokens − 1) / Σ(last − first) of streams
    "stream_completion": "%",  # streamed requests that ended with [DONE]
    "goodput_percent": "%",  # requests that succeeded within every per-request threshold
    "proxy_overhead_p95_ms": "ms",  # X-Edge-Overhead-Ms as the target reported it
    "cache_hit_percent": "%",  # HIT / (HIT + MISS) of X-Cache-Status, client-side
    "spike_recovery_s": "s",  # after the spike's end until P99 and errors are back (sustained)
    "knee_rps": "req/s",  # highest step rate that still met the stage targets
    "memory_growth_mb_per_h": "MB/h",  # least-squares slope of server memory, judged window
}

# Targets each stage of a multi-stage run is held to (scenario ``stage_targets``, else these of
# its ``targets``); see analysis/shapes/stages.py.
STAGE_TARGET_METRICS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate")

__all__ = [
    "CHARTS_DIR",
    "INDEX_FILE",
    "JUNIT_FILE",
    "METADATA_FILE",
    "METADATA_KEYS",
    "PROM_DIR",
    "QUERIES_FILE",
    "REPORT_FILE",
    "SAMPLES_DIR",
    "SAMPLE_COLUMNS",
    "SAMPLE_DEFAULTS",
    "SAMPLE_PART_GLOB",
    "SCENARIO_FILE",
    "SERIES_COLUMNS",
    "SERIES_FILE",
    "SERIES_METRIC_UNITS",
    "SERIES_SOURCES",
    "STAGE_TARGET_METRICS",
    "SUMMARY_FILE",
    "SUMMARY_MD_FILE",
    "VERDICT_METRICS",
    "VERDICT_UNITS",
]
