"""The view model and the renderer are pure; the page is self-contained and escapes run strings."""

from __future__ import annotations

import math
from pathlib import Path

from analysis.judging.result import RunResult
from analysis.judging.summary import json_safe, summary_json
from analysis.outputs.charts import ChartFile, ChartTable
from analysis.outputs.report import build_view, render_report

SUMMARY = {
    "scenario": "week1-baseline",
    "status": "INCOMPLETE",
    "measurements": {"rate_rps": 998.7, "requests": 60000, "errors": 0, "error_rate": 0.0},
    "verdicts": [
        {
            "metric": "latency_p95_ms",
            "target": "< 50",
            "measured": 3.4,
            "unit": "ms",
            "status": "PASS",
            "margin": 46.6,
            "source": "client samples",
            "reason": "",
        },
        {
            "metric": "memory_bytes",
            "target": "< 2GB",
            "measured": None,
            "unit": "bytes",
            "status": "NO DATA",
            "margin": None,
            "source": "",
            "reason": "no series <b>",
        },
    ],  # fmt: skip
    "warnings": ["note: <img src=x onerror=alert(1)>"],
}
RESULT = RunResult.from_dict(SUMMARY)


def test_build_view_is_plain_and_does_not_touch_its_input():
    before = repr(SUMMARY)
    view = build_view(RESULT, [], {"notes": ["n"], "load": {"rate_rps": 1000.0}})
    assert repr(SUMMARY) == before
    assert view["verdicts"][0]["measured"] == "3.400 ms"
    assert view["verdicts"][0]["margin"] == "+46.600 ms"
    assert view["verdicts"][1]["measured"] == "—"
    assert ("load.rate_rps", "1000.0") in view["metadata"]
    assert view["status_class"] == "incomplete"


def test_render_report_escapes_and_orders():
    html = render_report(build_view(RESULT, [], {}))
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "no series &lt;b&gt;" in html
    assert (
        html.index("latency_p95_ms") < html.index('id="warnings"') < html.index('id="measurements"')
    )
    assert render_report(build_view(RESULT, [], {})) == html


def test_json_safe_turns_nan_into_null():
    data = json_safe({"a": math.nan, "b": [math.inf, 1.5], "c": (1, 2)})
    assert data == {"a": None, "b": [None, 1.5], "c": [1, 2]}
    assert "NaN" not in summary_json({"x": math.nan})


def _chart(name: str, skipped: str = "") -> ChartFile:
    table = (
        None if skipped else ChartTable(["t (s)", "value"], [["0", "<b>1</b>"]], "every 2th row")
    )
    path = None if skipped else Path(f"charts/{name}.png")
    href = "" if skipped else f"charts/{name}.png"
    return ChartFile(name, href, path, f"title {name}", f"caption {name}", table, skipped)


def test_figures_come_with_tables_and_the_kind_table_follows_the_distribution():
    summary = {
        **SUMMARY,
        "measurements": {
            **SUMMARY["measurements"],
            "by_kind": {
                "chat": {
                    "requests": 10,
                    "errors": 1,
                    "p50_ms": 1.0,
                    "p95_ms": 2.0,
                    "p99_ms": 3.0,
                    "rate_rps": 5.0,
                    "cache_hits": 6,
                    "cache_hit_percent": 60.0,
                },
            },  # fmt: skip
        },
    }
    charts = [_chart("throughput"), _chart("latency-percentiles"), _chart("errors", "no errors")]
    result = RunResult.from_dict(summary)
    view = build_view(result, charts, {}, regressions=["P95 worse"], index_href="../index.html")
    kinds = [item["kind"] for item in view["figures"]]
    assert kinds == ["chart", "chart", "table", "chart"]
    assert view["figures"][2]["rows"] == [
        ["chat", "10", "5.0 req/s", "1.000 ms", "2.000 ms", "3.000 ms", "1", "60.00 %"]
    ]
    html = render_report(view)
    assert html.count("<details><summary>the numbers</summary>") == 2
    assert "&lt;b&gt;1&lt;/b&gt;" in html and "every 2th row" in html
    assert "<strong>title errors</strong>: not drawn, no errors." in html
    assert 'id="regressions"' in html and "P95 worse" in html
    assert html.index('id="regressions"') < html.index('class="verdicts"')
    assert 'href="../index.html"' in html


def test_extra_sections_hook_renders_tables():
    section = {"title": "Telemetry overhead", "caption": "on vs off", "head": ["metric", "delta"],
               "rows": [["P95", "+2.1 ms"]]}  # fmt: skip
    html = render_report(build_view(RESULT, [], {}, extra_sections=[section]))
    assert "<h2>Telemetry overhead</h2>" in html and "+2.1 ms" in html
