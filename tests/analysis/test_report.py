"""The view model and the renderer are pure; the page is self-contained and escapes run strings."""

from __future__ import annotations

import math

from analysis.report import build_view, render_report
from analysis.summary import json_safe, summary_json

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


def test_build_view_is_plain_and_does_not_touch_its_input():
    before = repr(SUMMARY)
    view = build_view(SUMMARY, [], {"notes": ["n"], "load": {"rate_rps": 1000.0}})
    assert repr(SUMMARY) == before
    assert view["verdicts"][0]["measured"] == "3.400 ms"
    assert view["verdicts"][0]["margin"] == "+46.600 ms"
    assert view["verdicts"][1]["measured"] == "—"
    assert ("load.rate_rps", "1000.0") in view["metadata"]
    assert view["status_class"] == "incomplete"


def test_render_report_escapes_and_orders():
    html = render_report(build_view(SUMMARY, [], {}))
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "no series &lt;b&gt;" in html
    assert (
        html.index("latency_p95_ms") < html.index('id="warnings"') < html.index('id="measurements"')
    )
    assert render_report(build_view(SUMMARY, [], {})) == html


def test_json_safe_turns_nan_into_null():
    data = json_safe({"a": math.nan, "b": [math.inf, 1.5], "c": (1, 2)})
    assert data == {"a": None, "b": [None, 1.5], "c": [1, 2]}
    assert "NaN" not in summary_json({"x": math.nan})
