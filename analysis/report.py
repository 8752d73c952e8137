"""The HTML report: a pure view model, a pure renderer, and a separate atomic writer."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from analysis._io import write_text_atomic
from analysis.charts import ChartFile
from analysis.formatting import format_count, format_value

TEMPLATE = "report.html"
_TEMPLATES_DIR = Path(__file__).parent / "templates"
STATUS_TEXT = {
    "PASS": "every target was met",
    "FAIL": "at least one target was missed",
    "INCOMPLETE": "no target was missed, but some could not be judged (NO DATA)",
    "INTERRUPTED": "the run was interrupted: the verdicts judge a partial run",
}
_LATENCY_ROWS = (
    ("response time (from intended send)", "latency_ms"),
    ("service time (from actual send)", "service_time_ms"),
    ("generator send lag", "send_lag_ms"),
)
_PERCENTILES = ("p50", "p90", "p95", "p99", "p999", "max")
_SERVER_ROWS = (
    ("memory max", "memory_max_bytes", "bytes"),
    ("CPU mean", "cpu_mean_percent", "%"),
    ("CPU P95", "cpu_p95_percent", "%"),
    ("OTLP export success", "otlp_export_success_percent", "%"),
)


def _css_class(status: str) -> str:
    return status.lower().replace(" ", "-")


def _verdict_row(verdict: dict[str, Any]) -> dict[str, str]:
    unit = verdict.get("unit", "")
    return {
        "metric": verdict["metric"],
        "target": verdict["target"],
        "measured": format_value(verdict.get("measured"), unit),
        "margin": format_value(verdict.get("margin"), unit, signed=True),
        "status": verdict["status"],
        "status_class": _css_class(verdict["status"]),
        "source": verdict.get("source") or "",
        "reason": verdict.get("reason") or "",
    }


def _key_measurements(m: dict[str, Any]) -> list[tuple[str, str]]:
    window = m.get("window") or {}
    rows = [
        ("achieved rate", format_value(m.get("rate_rps"), "req/s")),
        ("requests in steady window", format_count(m.get("requests"))),
        ("errors in steady window", format_count(m.get("errors"))),
        ("error rate", format_value(_percent(m.get("error_rate")), "%")),
        ("requests in the whole run", format_count(m.get("requests_total"))),
        ("response bytes received (window)", format_value(m.get("bytes_received"), "bytes")),
        (
            "steady window",
            f"{format_value(window.get('duration_s'), 's')} ({window.get('source', '—')})",
        ),
    ]
    server = m.get("server") or {}
    for label, key, unit in _SERVER_ROWS:
        reason = (server.get("missing") or {}).get(key)
        rows.append(
            (
                f"server {label}",
                format_value(server.get(key), unit) + (f" ({reason})" if reason else ""),
            )
        )
    return rows


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else ratio * 100.0


def _latency_rows(m: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for label, key in _LATENCY_ROWS:
        values = m.get(key) or {}
        rows.append(
            {"label": label, "cells": [format_value(values.get(p), "ms") for p in _PERCENTILES]}
        )
    return rows


def _breakdowns(m: dict[str, Any]) -> list[dict[str, Any]]:
    tables = []
    by_kind = m.get("by_kind") or {}
    if by_kind:
        head = ["kind", "requests", "errors", "P50", "P95", "P99"]
        rows = [
            [kind, format_count(v.get("requests")), format_count(v.get("errors"))]
            + [format_value(v.get(f"{p}_ms"), "ms") for p in ("p50", "p95", "p99")]
            for kind, v in by_kind.items()
        ]
        tables.append({"title": "By request kind", "head": head, "rows": rows})
    for title, key, label in (
        ("Errors by class", "errors_by_class", "error"),
        ("Requests by model", "models", "model"),
        ("Cache status", "cache", "X-Cache-Status"),
    ):
        counts = m.get(key) or {}
        if counts:
            rows = [[name, format_count(n)] for name, n in counts.items()]
            tables.append({"title": title, "head": [label, "requests"], "rows": rows})
    return tables


def _metadata_rows(metadata: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in metadata.items():
        if key == "notes":
            continue
        if isinstance(value, dict):
            for sub, inner in value.items():
                rows.append((f"{key}.{sub}", _text(inner)))
        else:
            rows.append((key, _text(value)))
    return rows


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(", ", ": "), default=str)
    return str(value)


def build_view(
    summary: dict[str, Any], charts: list[ChartFile], metadata: dict[str, Any]
) -> dict[str, Any]:
    """The plain view model the template renders: strings and lists only, nothing computed later."""
    status = summary.get("status", "")
    measurements = summary.get("measurements") or {}
    return {
        "scenario": summary.get("scenario", ""),
        "status": status,
        "status_class": _css_class(status),
        "status_text": STATUS_TEXT.get(status, ""),
        "started_utc": _text(metadata.get("started_utc")),
        "verdicts": [_verdict_row(v) for v in summary.get("verdicts") or []],
        "warnings": list(summary.get("warnings") or []),
        "key_measurements": _key_measurements(measurements),
        "percentile_head": [p.upper() if p != "p999" else "P99.9" for p in _PERCENTILES],
        "latency_rows": _latency_rows(measurements),
        "breakdowns": _breakdowns(measurements),
        "charts": [{"href": c.href, "title": c.title, "caption": c.caption} for c in charts],
        "notes": list(metadata.get("notes") or []),
        "metadata": _metadata_rows(metadata),
    }


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(view: dict[str, Any]) -> str:
    """The HTML page for ``view``; everything from the run is autoescaped."""
    return _environment().get_template(TEMPLATE).render(**view)


def write_report(path: Path, html: str) -> Path:
    """Write the rendered page atomically."""
    return write_text_atomic(path, html)


__all__ = ["STATUS_TEXT", "build_view", "render_report", "write_report"]
