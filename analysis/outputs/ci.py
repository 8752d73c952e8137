"""CI outputs of a run, pure renderers of its ``RunResult``: ``junit.xml`` and ``summary.md``.

JUnit: one testcase a target (classname = scenario). FAIL is a ``<failure>``; NO DATA is an
``<error>`` with its reason, so that a CI job goes red on a run that could not be judged (as the
exit code 2 does); an interrupted run adds an erroring ``run`` testcase.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from analysis.judging.result import RunResult, VerdictRecord
from analysis.outputs.formatting import format_count, format_value

STATUS_ICONS = {"PASS": "✅", "FAIL": "❌", "INCOMPLETE": "⚠️", "INTERRUPTED": "⏹️", "NO DATA": "⚠️"}
# Characters XML 1.0 cannot carry at all (controls but tab, newline, carriage return).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # what means something inside a table cell
MAX_SOURCE_CHARS = 160  # long PromQL is cut in the job summary; the report has it whole


def _xml_text(value: Any) -> str:
    return _XML_INVALID.sub("\ufffd", str(value))


def verdict_message(verdict: VerdictRecord) -> str:
    """``measured 62.100 ms vs target < 50`` (NO DATA: ``no data: <reason>``)."""
    if verdict.status == "FAIL" and verdict.measured is None:  # infinite
        return f"{verdict.reason or 'no finite value'} vs target {verdict.target}"
    if verdict.status == "NO DATA" or verdict.measured is None:
        return f"no data: {verdict.reason or 'nothing to judge'}"
    measured = format_value(verdict.measured, verdict.unit)
    return f"measured {measured} vs target {verdict.target}"


def render_junit(result: RunResult) -> str:
    """The JUnit XML document of a run result: one testcase a verdict."""
    scenario = _xml_text(result.scenario or "edgeperf")
    window = result.measurements.window
    duration = f"{float((window.duration_s if window else None) or 0.0):.3f}"
    suites = ET.Element("testsuites", name="edgeperf")
    suite = ET.SubElement(suites, "testsuite", name=scenario, timestamp="", time=duration)
    failures = errors = 0
    for verdict in result.verdicts:
        case = ET.SubElement(
            suite, "testcase", classname=scenario, name=_xml_text(verdict.metric), time="0"
        )
        message = _xml_text(verdict_message(verdict))
        detail = _xml_text(
            f"target {verdict.target}; margin "
            f"{format_value(verdict.margin, verdict.unit, signed=True)}; "
            f"source: {verdict.source or '—'}"
        )
        if verdict.status == "FAIL":
            failures += 1
            ET.SubElement(case, "failure", message=message, type="FAIL").text = detail
        elif verdict.status != "PASS":
            errors += 1
            ET.SubElement(case, "error", message=message, type="NO DATA").text = detail
        else:
            ET.SubElement(case, "system-out").text = f"{message} ({detail})"
    if result.status == "INTERRUPTED":
        errors += 1
        case = ET.SubElement(suite, "testcase", classname=scenario, name="run", time="0")
        ET.SubElement(case, "error", message="the run was interrupted", type="INTERRUPTED")
    counts = {"tests": len(suite), "failures": failures, "errors": errors, "skipped": 0}
    for element in (suite, suites):
        element.attrib.update({k: str(v) for k, v in counts.items()})
    del suite.attrib["timestamp"]
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def md(value: Any) -> str:
    """Text safe in a Markdown table cell: one line, HTML and Markdown syntax escaped."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_SOURCE_CHARS else text[: MAX_SOURCE_CHARS - 1] + "…"


def _row(cells: Sequence[Any]) -> str:
    return "| " + " | ".join(md(c) for c in cells) + " |"


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    return [_row(head), "|" + "---|" * len(head), *(_row(r) for r in rows)]


def render_summary_md(result: RunResult, regressions: Sequence[str] = ()) -> str:
    """A Markdown page for a CI job summary: status, verdicts, key measurements, warnings."""
    status = result.status
    m = result.measurements
    latency, server = m.latency_ms, m.server
    duration = m.window.duration_s if m.window else None
    lines = [
        f"## {STATUS_ICONS.get(status, '')} edgeperf {md(result.scenario)}: {md(status)}",
        "",
        f"Steady window {format_value(duration, 's')}, "
        f"{format_count(m.requests)} requests, {format_count(m.errors)} errors.",
        "",
        "### Verdicts",
        "",
    ]
    verdict_rows = [
        (
            f"{STATUS_ICONS.get(v.status, '')} {v.status}",
            v.metric,
            v.target,
            format_value(v.measured, v.unit),
            format_value(v.margin, v.unit, signed=True),
            _cut(v.reason or v.source),
        )
        for v in result.verdicts
    ]
    verdict_head = ("status", "metric", "target", "measured", "margin", "source / reason")
    lines += (
        _table(verdict_head, verdict_rows) if verdict_rows else ["The scenario has no targets."]
    )
    lines += ["", "### Key measurements", ""]
    figures = [
        format_value(m.rate_rps, "req/s"),
        *(
            format_value(v, "ms")
            for v in (latency.p50, latency.p95, latency.p99, latency.p999, latency.max)
        ),
        format_value(server.memory_max_bytes, "bytes"),
        format_value(server.cpu_mean_percent, "%"),
    ]
    head = ("rate", "P50", "P95", "P99", "P99.9", "max", "memory max", "CPU mean")
    lines += _table(head, [figures])
    if regressions:
        lines += ["", "### Regressions", "", *(f"- {md(r)}" for r in regressions)]
    warnings = result.warnings
    if warnings:
        lines += ["", "### Warnings", "", *(f"- {md(w)}" for w in warnings)]
    lines += ["", "The full report is `index.html` in the run directory (open it from disk).", ""]
    return "\n".join(lines)


__all__ = ["md", "render_junit", "render_summary_md", "verdict_message"]
