"""CI outputs of a run, pure renderers of summary.json: ``junit.xml`` and ``summary.md``.

JUnit: one testcase a target (classname = scenario). FAIL is a ``<failure>``; NO DATA is an
``<error>`` with its reason, so that a CI job goes red on a run that could not be judged (as the
exit code 2 does); an interrupted run adds an erroring ``run`` testcase.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from analysis.outputs.formatting import format_count, format_value

STATUS_ICONS = {"PASS": "✅", "FAIL": "❌", "INCOMPLETE": "⚠️", "INTERRUPTED": "⏹️", "NO DATA": "⚠️"}
# Characters XML 1.0 cannot carry at all (controls but tab, newline, carriage return).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # what means something inside a table cell
MAX_SOURCE_CHARS = 160  # long PromQL is cut in the job summary; the report has it whole


def _xml_text(value: Any) -> str:
    return _XML_INVALID.sub("\ufffd", str(value))


def verdict_message(verdict: dict[str, Any]) -> str:
    """``measured 62.100 ms vs target < 50`` (NO DATA: ``no data: <reason>``)."""
    if verdict.get("status") == "FAIL" and verdict.get("measured") is None:  # infinite
        return f"{verdict.get('reason') or 'no finite value'} vs target {verdict.get('target')}"
    if verdict.get("status") == "NO DATA" or verdict.get("measured") is None:
        return f"no data: {verdict.get('reason') or 'nothing to judge'}"
    measured = format_value(verdict.get("measured"), str(verdict.get("unit") or ""))
    return f"measured {measured} vs target {verdict.get('target')}"


def render_junit(summary: dict[str, Any]) -> str:
    """The JUnit XML document of a summary: one testcase a verdict."""
    scenario = _xml_text(summary.get("scenario") or "edgeperf")
    verdicts = [v for v in summary.get("verdicts") or [] if isinstance(v, dict)]
    window = (summary.get("measurements") or {}).get("window") or {}
    duration = f"{float(window.get('duration_s') or 0.0):.3f}"
    suites = ET.Element("testsuites", name="edgeperf")
    suite = ET.SubElement(suites, "testsuite", name=scenario, timestamp="", time=duration)
    failures = errors = 0
    for verdict in verdicts:
        case = ET.SubElement(
            suite, "testcase", classname=scenario, name=_xml_text(verdict.get("metric")), time="0"
        )
        message = _xml_text(verdict_message(verdict))
        detail = _xml_text(
            f"target {verdict.get('target')}; margin "
            f"{format_value(verdict.get('margin'), str(verdict.get('unit') or ''), signed=True)}; "
            f"source: {verdict.get('source') or '—'}"
        )
        if verdict.get("status") == "FAIL":
            failures += 1
            ET.SubElement(case, "failure", message=message, type="FAIL").text = detail
        elif verdict.get("status") != "PASS":
            errors += 1
            ET.SubElement(case, "error", message=message, type="NO DATA").text = detail
        else:
            ET.SubElement(case, "system-out").text = f"{message} ({detail})"
    if summary.get("status") == "INTERRUPTED":
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


def render_summary_md(summary: dict[str, Any], regressions: Sequence[str] = ()) -> str:
    """A Markdown page for a CI job summary: status, verdicts, key measurements, warnings."""
    status = str(summary.get("status") or "")
    m = summary.get("measurements") or {}
    latency, server = m.get("latency_ms") or {}, m.get("server") or {}
    window = m.get("window") or {}
    lines = [
        f"## {STATUS_ICONS.get(status, '')} edgeperf {md(summary.get('scenario'))}: {md(status)}",
        "",
        f"Steady window {format_value(window.get('duration_s'), 's')}, "
        f"{format_count(m.get('requests'))} requests, {format_count(m.get('errors'))} errors.",
        "",
        "### Verdicts",
        "",
    ]
    verdict_rows = [
        (
            f"{STATUS_ICONS.get(str(v.get('status')), '')} {v.get('status')}",
            v.get("metric"),
            v.get("target"),
            format_value(v.get("measured"), str(v.get("unit") or "")),
            format_value(v.get("margin"), str(v.get("unit") or ""), signed=True),
            _cut(v.get("reason") or v.get("source") or ""),
        )
        for v in summary.get("verdicts") or []
    ]
    verdict_head = ("status", "metric", "target", "measured", "margin", "source / reason")
    lines += (
        _table(verdict_head, verdict_rows) if verdict_rows else ["The scenario has no targets."]
    )
    lines += ["", "### Key measurements", ""]
    figures = [
        format_value(m.get("rate_rps"), "req/s"),
        *(format_value(latency.get(p), "ms") for p in ("p50", "p95", "p99", "p999", "max")),
        format_value(server.get("memory_max_bytes"), "bytes"),
        format_value(server.get("cpu_mean_percent"), "%"),
    ]
    head = ("rate", "P50", "P95", "P99", "P99.9", "max", "memory max", "CPU mean")
    lines += _table(head, [figures])
    if regressions:
        lines += ["", "### Regressions", "", *(f"- {md(r)}" for r in regressions)]
    warnings = summary.get("warnings") or []
    if warnings:
        lines += ["", "### Warnings", "", *(f"- {md(w)}" for w in warnings)]
    lines += ["", "The full report is `index.html` in the run directory (open it from disk).", ""]
    return "\n".join(lines)


__all__ = ["md", "render_junit", "render_summary_md", "verdict_message"]
