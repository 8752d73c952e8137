"""junit.xml and summary.md: pure renderers of summary.json; CI goes red when it should."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from analysis.judging.result import RunResult, VerdictRecord
from analysis.outputs.ci import md, render_junit, render_summary_md, verdict_message

HOSTILE = '<script>alert("x")</script> & | `code` \x07'


def _verdict(metric, status, measured=None, unit="ms", target="< 50", reason=""):
    margin = None if measured is None else 50.0 - measured
    return {
        "metric": metric,
        "target": target,
        "measured": measured,
        "unit": unit,
        "status": status,
        "margin": margin,
        "source": "client samples",
        "reason": reason,
    }


SUMMARY = {
    "scenario": "week1-baseline",
    "status": "FAIL",
    "measurements": {
        "rate_rps": 998.7,
        "requests": 60000,
        "errors": 3,
        "latency_ms": {"p50": 1.2, "p95": 62.1, "p99": 80.0, "p999": 90.0, "max": 95.0},
        "server": {"memory_max_bytes": 53_990_000.0, "cpu_mean_percent": 13.0},
        "window": {"duration_s": 60.0},
    },
    "verdicts": [
        _verdict("latency_p50_ms", "PASS", 1.2, target="< 10"),
        _verdict("latency_p95_ms", "FAIL", 62.1),
        _verdict("otlp_export_success", "NO DATA", unit="%", target="> 99.9", reason="no series"),
    ],
    "warnings": ["the generator may have been the bottleneck"],
}
RESULT = RunResult.from_dict(SUMMARY)


def test_junit_one_testcase_per_target_failure_and_error():
    root = ET.fromstring(render_junit(RESULT).encode())
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "week1-baseline"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"latency_p50_ms", "latency_p95_ms", "otlp_export_success"}
    assert {case.get("classname") for case in cases.values()} == {"week1-baseline"}
    assert cases["latency_p50_ms"].find("failure") is None
    failure = cases["latency_p95_ms"].find("failure")
    assert failure is not None and failure.get("message") == "measured 62.100 ms vs target < 50"
    error = cases["otlp_export_success"].find("error")
    assert error is not None and error.get("message") == "no data: no series"


def test_junit_interrupted_run_is_an_error_and_hostile_text_stays_well_formed():
    summary = {
        "scenario": HOSTILE,
        "status": "INTERRUPTED",
        "verdicts": [_verdict(HOSTILE, "PASS", 1.0, reason=HOSTILE)],
    }
    text = render_junit(RunResult.from_dict(summary))
    assert "<script>" not in text
    root = ET.fromstring(text.encode())  # well-formed despite the control character
    suite = root.find("testsuite")
    assert suite is not None and suite.get("errors") == "1"
    run = [c for c in suite.iter("testcase") if c.get("name") == "run"]
    assert run and run[0].find("error") is not None


def test_verdict_message_units():
    bytes_verdict = _verdict("memory_bytes", "FAIL", 2.5e9, unit="bytes", target="< 2GB")
    verdict = VerdictRecord.model_validate(bytes_verdict)
    assert verdict_message(verdict) == "measured 2.50 GB vs target < 2GB"


def test_summary_md_has_status_verdicts_measurements_warnings():
    text = render_summary_md(RESULT, ["P95 62.100 ms vs 5.000 ms in run-1 (+1142 %)"])
    assert text.startswith("## ❌ edgeperf week1-baseline: FAIL")
    assert "| ❌ FAIL | latency\\_p95\\_ms | &lt; 50 | 62.100 ms | -12.100 ms |" in text
    assert "| 998.7 req/s | 1.200 ms | 62.100 ms | 80.000 ms |" in text
    assert "### Regressions" in text and "### Warnings" in text
    assert "no series" in text  # a NO DATA row shows its reason


def test_md_escapes_html_and_table_syntax():
    cell = md(HOSTILE)
    assert "<" not in cell and "|" not in cell.replace("\\|", "")
    assert "\n" not in md("a\nb")
