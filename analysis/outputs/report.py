"""The HTML report: a pure view model, a pure renderer, and a separate atomic writer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis.contract.atomic import write_text_atomic
from analysis.history.regressions import FIGURES, REL_TOLERANCE, SPREAD_FACTOR, SPREAD_RUNS
from analysis.outputs.charts import ChartFile, ChartTable
from analysis.outputs.formatting import format_count, format_value
from analysis.outputs.llm_sections import goodput_row, llm_sections
from analysis.outputs.templating import environment

TEMPLATE = "report.html"
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
        *filter(None, [goodput_row(m)]),
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
    generator = m.get("generator") or {}
    if generator.get("cpu_s") is not None:
        rows.append(
            (
                "generator CPU (its own measure)",
                f"{format_value(generator.get('cpu_percent_of_core'), '%')} of a core per worker, "
                f"{format_value(generator.get('cpu_us_per_request'), 'µs')} a request, "
                f"{generator.get('workers', 1)} worker(s); concurrency cap waits "
                f"{format_count(generator.get('cap_waits'))}",
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


def kind_table(m: dict[str, Any]) -> dict[str, Any] | None:
    """Per request kind: count, rate, P50/P95/P99, errors and cache hit % of the steady window."""
    by_kind = m.get("by_kind") or {}
    if not by_kind:
        return None
    head = ["kind", "requests", "rate", "P50", "P95", "P99", "errors", "cache hit"]
    streams = any("ttft_p95_ms" in v for v in by_kind.values())  # tags of streamed kinds
    head += ["TTFT P95", "tokens/s P50"] if streams else []
    rows = [
        [
            kind,
            format_count(v.get("requests")),
            format_value(v.get("rate_rps"), "req/s"),
            *(format_value(v.get(f"{p}_ms"), "ms") for p in ("p50", "p95", "p99")),
            format_count(v.get("errors")),
            format_value(v.get("cache_hit_percent"), "%"),
            *(
                [
                    format_value(v.get("ttft_p95_ms"), "ms"),
                    format_value(v.get("tokens_per_s_p50"), "tokens/s"),
                ]
                if streams
                else []
            ),
        ]
        for kind, v in by_kind.items()
    ]
    caption = (
        "Requests intended in the steady window by request kind; response time from the intended "
        "send time; cache hit is the share of responses with an X-Cache-Status that were hits "
        "(— when the kind sends none)."
        + (" TTFT P95 and tokens/s P50 of streamed kinds as under Streaming." if streams else "")
    )
    return {"kind": "table", "title": "By request kind", "caption": caption, "head": head,
            "rows": rows}  # fmt: skip


def _breakdowns(m: dict[str, Any]) -> list[dict[str, Any]]:
    tables = []
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


def _table_view(table: ChartTable | None) -> dict[str, Any] | None:
    if table is None:
        return None
    return {"head": list(table.head), "rows": [list(r) for r in table.rows], "note": table.note}


def figures_view(charts: list[ChartFile], kinds: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Charts in page order, the per-kind table right after the latency distribution."""
    items: list[dict[str, Any]] = [
        {
            "kind": "chart",
            "name": chart.name,
            "href": chart.href,
            "title": chart.title,
            "caption": chart.caption,
            "table": _table_view(chart.table),
            "skipped": chart.skipped,
        }
        for chart in charts
    ]
    if kinds is not None:
        names = [chart.name for chart in charts]
        after = next((n for n in ("latency-percentiles", "latency") if n in names), None)
        items.insert(names.index(after) + 1 if after else len(items), kinds)
    return items


REGRESSION_RULE = (
    f"A figure ({', '.join(label for label, _, _ in FIGURES.values())}) regresses when it is worse "
    "than in the latest earlier passing run (PASS or INCOMPLETE) of the same scenario, rate and "
    f"target by more than max({REL_TOLERANCE:.0%} of that run's value, {SPREAD_FACTOR:g} × the "
    f"spread (max − min) over the last {SPREAD_RUNS} passing runs, a small floor)."
)


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
    summary: dict[str, Any],
    charts: list[ChartFile],
    metadata: dict[str, Any],
    *,
    regressions: list[str] | None = None,
    index_href: str = "",
    extra_sections: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The plain view model the template renders: strings and lists only, nothing computed later.

    ``regressions`` describe this run against earlier runs; ``index_href`` links the reports
    index; ``extra_sections`` (title, caption, head, rows) is the hook for overhead comparisons.
    """
    status = summary.get("status", "")
    measurements = summary.get("measurements") or {}
    return {
        "scenario": summary.get("scenario", ""),
        "status": status,
        "status_class": _css_class(status),
        "status_text": STATUS_TEXT.get(status, ""),
        "started_utc": _text(metadata.get("started_utc")),
        "index_href": index_href,
        "verdicts": [_verdict_row(v) for v in summary.get("verdicts") or []],
        "regressions": list(regressions or []),
        "regression_rule": REGRESSION_RULE,
        "warnings": list(summary.get("warnings") or []),
        "key_measurements": _key_measurements(measurements),
        "percentile_head": [p.upper() if p != "p999" else "P99.9" for p in _PERCENTILES],
        "latency_rows": _latency_rows(measurements),
        "breakdowns": _breakdowns(measurements),
        "llm_sections": llm_sections(measurements),
        "figures": figures_view(charts, kind_table(measurements)),
        "extra_sections": list(extra_sections or []),
        "notes": list(metadata.get("notes") or []),
        "metadata": _metadata_rows(metadata),
    }


def render_report(view: dict[str, Any]) -> str:
    """The HTML page for ``view``; everything from the run is autoescaped."""
    return environment().get_template(TEMPLATE).render(**view)


def write_report(path: Path, html: str) -> Path:
    """Write the rendered page atomically."""
    return write_text_atomic(path, html)


__all__ = [
    "REGRESSION_RULE",
    "STATUS_TEXT",
    "build_view",
    "figures_view",
    "kind_table",
    "render_report",
    "write_report",
]
