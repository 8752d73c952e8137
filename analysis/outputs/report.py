"""The HTML report: a pure view model, a pure renderer, and a separate atomic writer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis.contract.atomic import write_text_atomic
from analysis.history.regressions import FIGURES, REL_TOLERANCE, SPREAD_FACTOR, SPREAD_RUNS
from analysis.judging.result import (
    Measurements,
    Percentiles,
    RunResult,
    Server,
    VerdictRecord,
    Window,
)
from analysis.outputs.charts import ChartFile, ChartTable
from analysis.outputs.formatting import format_count, format_value
from analysis.outputs.llm_sections import goodput_row, llm_sections
from analysis.outputs.stall_sections import stalls_table, without_stalls_row
from analysis.outputs.templating import environment

TEMPLATE = "report.html"
STATUS_TEXT = {
    "PASS": "every target was met",
    "FAIL": "at least one target was missed",
    "INCOMPLETE": "no target was missed, but some could not be judged (NO DATA)",
    "INTERRUPTED": "the run was interrupted: the verdicts judge a partial run",
}
_PERCENTILES = ("p50", "p90", "p95", "p99", "p999", "max")


def _css_class(status: str) -> str:
    return status.lower().replace(" ", "-")


def _verdict_row(verdict: VerdictRecord) -> dict[str, str]:
    unit = verdict.unit
    return {
        "metric": verdict.metric,
        "target": verdict.target,
        "measured": format_value(verdict.measured, unit),
        "margin": format_value(verdict.margin, unit, signed=True),
        "status": verdict.status,
        "status_class": _css_class(verdict.status),
        "source": verdict.source,
        "reason": verdict.reason,
    }


def _server_rows(server: Server) -> list[tuple[str, str]]:
    rows = []
    for label, key, value, unit in (
        ("memory max", "memory_max_bytes", server.memory_max_bytes, "bytes"),
        ("CPU mean", "cpu_mean_percent", server.cpu_mean_percent, "%"),
        ("CPU P95", "cpu_p95_percent", server.cpu_p95_percent, "%"),
        ("OTLP export success", "otlp_export_success_percent",
         server.otlp_export_success_percent, "%"),
    ):  # fmt: skip
        reason = server.missing.get(key)
        rows.append(
            (f"server {label}", format_value(value, unit) + (f" ({reason})" if reason else ""))
        )
    return rows


def _key_measurements(m: Measurements) -> list[tuple[str, str]]:
    window = m.window or Window()
    source = "—" if window.source is None else window.source
    rows = [
        ("achieved rate", format_value(m.rate_rps, "req/s")),
        *filter(None, [_not_sent_row(m)]),
        *filter(None, [goodput_row(m)]),
        ("requests in steady window", format_count(m.requests)),
        ("errors in steady window", format_count(m.errors)),
        ("error rate", format_value(_percent(m.error_rate), "%")),
        ("requests in the whole run", format_count(m.requests_total)),
        ("response bytes received (window)", format_value(m.bytes_received, "bytes")),
        ("steady window", f"{format_value(window.duration_s, 's')} ({source})"),
    ]
    rows += _server_rows(m.server)
    generator = m.generator
    if generator.cpu_s is not None:
        rows.append(
            (
                "generator CPU (its own measure)",
                f"{format_value(generator.cpu_percent_of_core, '%')} of a core per worker, "
                f"{format_value(generator.cpu_us_per_request, 'µs')} a request, "
                f"{generator.workers} worker(s); concurrency cap waits "
                f"{format_count(generator.cap_waits)}",
            )
        )
    if generator.connections_opened:
        setup = generator.connect_ms
        rows.append(
            (
                "connections opened (whole run)",
                f"{format_count(generator.connections_opened)}; TCP connect + TLS "
                f"P50 {format_value(setup.p50, 'ms')}, P99 {format_value(setup.p99, 'ms')}",
            )
        )
    return rows


def _not_sent_row(m: Measurements) -> tuple[str, str] | None:
    """Offered beside taken, when the target could not take what the schedule offered."""
    if not m.not_sent:
        return None
    return (
        "not sent (concurrency cap full)",
        f"offered {format_value(m.offered_rps, 'req/s')}, the target took "
        f"{format_value(m.rate_rps, 'req/s')}: {format_count(m.not_sent)} requests due in the "
        "steady window were never sent (counted as errors)",
    )


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else ratio * 100.0


def percentile_cells(values: Percentiles) -> list[str]:
    """P50, P90, P95, P99, P99.9 and max in ms (the order of ``_PERCENTILES``)."""
    figures = (values.p50, values.p90, values.p95, values.p99, values.p999, values.max)
    return [format_value(v, "ms") for v in figures]


def _latency_rows(m: Measurements) -> list[dict[str, Any]]:
    rows = [
        {"label": label, "cells": percentile_cells(values)}
        for label, values in (
            ("response time (from intended send)", m.latency_ms),
            ("service time (from actual send)", m.service_time_ms),
            ("generator send lag", m.send_lag_ms),
        )
    ]
    clean = without_stalls_row(m, percentile_cells(m.latency_without_stalls_ms))
    return rows[:1] + [clean] + rows[1:] if clean else rows


def kind_table(m: Measurements) -> dict[str, Any] | None:
    """Per request kind: count, rate, P50/P95/P99, errors and cache hit % of the steady window."""
    by_kind = m.by_kind
    if not by_kind:
        return None
    head = ["kind", "requests", "rate", "P50", "P95", "P99", "errors", "cache hit"]
    streams = any(v.provided("ttft_p95_ms") for v in by_kind.values())  # streamed kinds' tags
    head += ["TTFT P95", "tokens/s P50"] if streams else []
    rows = [
        [
            kind,
            format_count(v.requests),
            format_value(v.rate_rps, "req/s"),
            *(format_value(x, "ms") for x in (v.p50_ms, v.p95_ms, v.p99_ms)),
            format_count(v.errors),
            format_value(v.cache_hit_percent, "%"),
            *(
                [
                    format_value(v.ttft_p95_ms, "ms"),
                    format_value(v.tokens_per_s_p50, "tokens/s"),
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


def _breakdowns(m: Measurements) -> list[dict[str, Any]]:
    tables = []
    for title, counts, label in (
        ("Errors by class", m.errors_by_class, "error"),
        ("Requests by model", m.models, "model"),
        ("Cache status", m.cache, "X-Cache-Status"),
    ):
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


def _placement_rows(metadata: dict[str, Any]) -> list[tuple[str, str]]:
    """Where each process ran: "generator CPU 1; agent, prometheus CPU 0", or why not pinned."""
    placement = metadata.get("placement") or {}
    if not placement:
        return []
    mode = placement.get("mode")
    by_cpus: dict[str, list[str]] = {}
    for role, cpus in (placement.get("processes") or {}).items():
        by_cpus.setdefault(str(cpus), []).append(str(role).replace("_", " "))
    where = "; ".join(f"{', '.join(roles)} on CPU {cpus}" for cpus, roles in by_cpus.items())
    if mode in ("off", "shared"):
        text = f"not pinned ({mode}); CPUs available {placement.get('available_cpus') or '?'}"
        text += f"; {where}" if where else ""
    else:
        text = f"{mode}: {where}" if where else str(mode)
    return [("placement (CPU affinity)", text)]


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
    result: RunResult,
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
    status = result.status
    measurements = result.measurements
    return {
        "scenario": result.scenario,
        "status": status,
        "status_class": _css_class(status),
        "status_text": STATUS_TEXT.get(status, ""),
        "started_utc": _text(metadata.get("started_utc")),
        "index_href": index_href,
        "verdicts": [_verdict_row(v) for v in result.verdicts],
        "regressions": list(regressions or []),
        "regression_rule": REGRESSION_RULE,
        "warnings": list(result.warnings),
        "key_measurements": _key_measurements(measurements) + _placement_rows(metadata),
        "percentile_head": [p.upper() if p != "p999" else "P99.9" for p in _PERCENTILES],
        "latency_rows": _latency_rows(measurements),
        "stalls": stalls_table(measurements),
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
