"""The saved report document: ``summary.json`` built as a plain dict from the measurements.

The typed model of that document, and its JSON text (NaN -> null), are in
``analysis.judging.result`` (``RunResult``); ``analyze`` validates this dict into it.
"""

from __future__ import annotations

import math
from typing import Any

from analysis.contract.schema import SERIES_METRIC_UNITS
from analysis.judging.result import json_safe, summary_json
from analysis.judging.verdicts import Verdict
from analysis.measuring.client import ClientMeasurements, Measured
from analysis.measuring.serverside import ServerMeasurements
from analysis.reading.rundir import RunData

SUMMARY_VERSION = 1
_RUN_KEYS = ("outcome", "started_utc", "ended_utc", "harness_version", "git_sha", "host", "target")


def _server(server: ServerMeasurements) -> dict[str, Any]:
    fields: dict[str, Measured] = {
        "memory_max_bytes": server.memory_max_bytes,
        "cpu_mean_percent": server.cpu_mean_percent,
        "cpu_p95_percent": server.cpu_p95_percent,
        "otlp_export_success_percent": server.otlp_success_percent,
    }
    out: dict[str, Any] = {name: m.value for name, m in fields.items()}
    out["sources"] = {name: m.source for name, m in fields.items() if m.source}
    out["missing"] = {name: m.reason for name, m in fields.items() if not m.ok}
    out["others"] = {
        name: {"value": m.value, "unit": SERIES_METRIC_UNITS.get(name, ""), "source": m.source}
        | ({"missing": m.reason} if not m.ok else {})
        for name, m in server.others.items()
    }
    out["problems"] = list(server.problems)
    if server.otlp is not None:
        out["otlp"] = server.otlp.as_dict()
    return out


def _window(client: ClientMeasurements) -> dict[str, Any] | None:
    window = client.window
    if window is None:
        return None
    return {
        "start_us": window.start_us,
        "end_us": window.end_us,
        "duration_s": window.duration_s,
        "source": window.source,
    }


def build_measurements(client: ClientMeasurements, server: ServerMeasurements) -> dict[str, Any]:
    """The ``measurements`` object: DESIGN.md's keys first, then the details."""
    rate = client.rate_rps.value
    return {
        "rate_rps": round(rate, 3) if math.isfinite(rate) else rate,
        "requests": client.requests,
        "errors": client.errors,
        "error_rate": client.error_ratio.value,
        "latency_ms": client.response.as_dict(),
        "service_time_ms": client.service.as_dict(),
        "send_lag_ms": {k: client.lag.get(k) for k in ("p50", "p99", "max")},
        "requests_sent": client.requests_sent,
        "not_sent": client.not_sent,
        "offered_rps": client.offered_rps,
        "requests_total": client.requests_total,
        "bytes_received": client.bytes_received,
        "errors_by_class": client.errors_by_class,
        "by_kind": client.by_kind,
        "models": client.models,
        "cache": client.cache,
        "missing": client.reason,
        "server": _server(server),
        "window": _window(client),
    }


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def generator_figures(metadata: dict[str, Any], client: ClientMeasurements) -> dict[str, Any]:
    """What the load generator measured about itself: CPU, per-request cost, lag, the cap."""
    generator = metadata.get("generator") or {}
    cpu_s, wall_s = _number(generator.get("cpu_s")), _number(generator.get("wall_s"))
    workers = max(1, len(generator.get("workers") or []))
    requests = client.requests_total or 0
    share = 100 * cpu_s / wall_s / workers if cpu_s is not None and wall_s else None
    return {
        "workers": workers,
        "cpu_s": cpu_s,
        "wall_s": wall_s,
        "cpu_percent_of_core": share,  # per worker process, mean over the run
        "cpu_us_per_request": 1e6 * cpu_s / requests if cpu_s is not None and requests else None,
        "send_lag_ms": {k: client.lag.get(k) for k in ("p50", "p99", "max")},
        "max_concurrency": generator.get("max_concurrency"),
        "cap_waits": generator.get("cap_waits"),
        "max_in_flight": generator.get("max_in_flight"),
        # Whole run; none recorded (runs before connect_us existed) reads as unknown, not 0.
        "connections_opened": client.connect.count or None,
        "connect_ms": {k: client.connect.get(k) for k in ("p50", "p99", "max")},
    }


def build_summary(
    run: RunData,
    client: ClientMeasurements,
    server: ServerMeasurements,
    verdicts: list[Verdict],
    status: str,
    warnings: list[str],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole ``summary.json`` document, JSON-safe (NaN already None).

    ``extra`` keys are added to (or replace) those of ``measurements``.
    """
    summary = {
        "scenario": run.name,
        "status": status,
        "measurements": build_measurements(client, server)
        | {"generator": generator_figures(run.metadata, client)}
        | (extra or {}),
        "verdicts": [v.as_dict() for v in verdicts],
        "warnings": list(warnings),
        "run": {key: run.metadata.get(key) for key in _RUN_KEYS},
        "summary_version": SUMMARY_VERSION,
    }
    return json_safe(summary)


__all__ = ["build_measurements", "build_summary", "json_safe", "summary_json"]
