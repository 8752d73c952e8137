"""What a comparison leaves: compare.json, summary.md, junit.xml, compare.html and its charts.

Renderers are pure functions of a ``Comparison``; ``write_comparison`` writes each atomically
into the compare folder (``reports/compare-<UTC stamp>-<A>-vs-<B>/`` by default).
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analysis.compare.bootstrap import BIN_REL
from analysis.compare.charts import compare_chart_specs
from analysis.compare.comparison import Comparison, MetricComparison, compare_runs
from analysis.compare.judging import BETTER, INCONCLUSIVE, NO_DATA, SAME, WORSE, Tolerance
from analysis.compare.seconds import RunSeconds
from analysis.contract.atomic import write_text_atomic
from analysis.outputs.charts import file_store, render_figures
from analysis.outputs.ci import md
from analysis.outputs.formatting import format_value
from analysis.outputs.templating import environment
from analysis.overhead.stats import CONFIDENCE

RESULT_FILE = "compare.json"
REPORT_FILE = "compare.html"
SUMMARY_MD_FILE = "summary.md"
JUNIT_FILE = "junit.xml"
ICONS = {WORSE: "❌", BETTER: "✅", SAME: "✅", INCONCLUSIVE: "⚠️", NO_DATA: "⚠️"}
_BADGE = {WORSE: "fail", BETTER: "pass", SAME: "pass", INCONCLUSIVE: "incomplete"}
METHOD = (
    "B − A per metric from the raw samples of each run's judged window; 95 % interval: block "
    "bootstrap over whole seconds (non-overlapping blocks of ceil(S^(1/3)) s, at least 10 "
    "blocks), {resamples} resamples of each run, seeded ({seed}), percentile interval with "
    "Hesterberg's expanded level; quantiles resampled on 0.1 % log bins. WORSE: the interval "
    "lies wholly beyond +tolerance; BETTER: wholly below −tolerance; SAME: wholly within "
    "±tolerance; INCONCLUSIVE: otherwise."
)


def compare_folder(out_root: Path, a: str | Path, b: str | Path) -> Path:
    """``out_root/compare-<UTC stamp>-<A>-vs-<B>`` (names of the run directories)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return out_root / f"compare-{stamp}-{Path(a).name}-vs-{Path(b).name}"


def _num(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _run(run: RunSeconds) -> dict[str, Any]:
    return {
        "run_dir": run.run_dir,
        "scenario": run.name,
        "window_s": run.window.duration_s,
        "requests": int(run.requests.sum()),
        "errors": int(run.errors.sum()),
    }


def _method(comparison: Comparison) -> str:
    return METHOD.format(resamples=comparison.resamples, seed=comparison.seed)


def to_dict(comparison: Comparison) -> dict[str, Any]:
    """The compare.json document (NaN as null)."""
    return {
        "verdict": comparison.verdict,
        "exit_code": comparison.exit_code,
        "a": _run(comparison.a),
        "b": _run(comparison.b),
        "method": {
            "text": _method(comparison),
            "confidence": CONFIDENCE,
            "block_s": list(comparison.block_s),
            "resamples": comparison.resamples,
            "seed": comparison.seed,
            "quantile_bin_relative_width": BIN_REL,
        },
        "metrics": [
            {
                "metric": r.metric,
                "unit": r.unit,
                "a": _num(r.a),
                "b": _num(r.b),
                "delta": _num(r.delta),
                "interval": [_num(r.low), _num(r.high)],
                "tolerance": _num(r.tolerance),
                "tolerance_text": r.tolerance_text,
                "higher_is_worse": r.higher_is_worse,
                "verdict": r.verdict,
                "reason": r.reason,
            }
            for r in comparison.rows
        ],
    }


def _cells(r: MetricComparison) -> list[str]:
    interval = (
        f"[{format_value(r.low, r.unit, signed=True)}, {format_value(r.high, r.unit, signed=True)}]"
        if not math.isnan(r.low)
        else "—"
    )
    tolerance = f"±{format_value(r.tolerance, r.unit)}" if not math.isnan(r.tolerance) else "—"
    return [
        r.metric,
        format_value(r.a, r.unit),
        format_value(r.b, r.unit),
        format_value(r.delta, r.unit, signed=True),
        interval,
        f"{tolerance} ({r.tolerance_text})",
        r.verdict,
    ]


HEAD = ["metric", "A", "B", "B − A", "95 % interval", "tolerance", "verdict"]


def format_comparison(comparison: Comparison) -> str:
    """A plain-text table for the terminal, with the overall verdict last."""
    rows = [HEAD, *(_cells(r) for r in comparison.rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEAD))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"A: {comparison.a.run_dir}")
    lines.append(f"B: {comparison.b.run_dir}")
    lines.append(f"{comparison.a.name} compare: {comparison.verdict}")
    return "\n".join(lines)


def render_summary_md(comparison: Comparison) -> str:
    """A Markdown page for a CI job summary."""
    a, b = comparison.a, comparison.b
    icon = ICONS.get(comparison.verdict, "")
    lines = [
        f"## {icon} edgeperf compare {md(a.name)}: {comparison.verdict}",
        "",
        f"A (baseline): `{md(Path(a.run_dir).name)}`, {int(a.requests.sum()):,} requests in "
        f"{a.window.duration_s:g} s; B: `{md(Path(b.run_dir).name)}`, "
        f"{int(b.requests.sum()):,} requests in {b.window.duration_s:g} s.",
        "",
        "| " + " | ".join(HEAD) + " |",
        "|" + "---|" * len(HEAD),
    ]
    for r in comparison.rows:
        cells = _cells(r)
        cells[-1] = f"{ICONS.get(r.verdict, '')} {r.verdict}"
        if r.verdict == NO_DATA:
            cells[-1] += f": {r.reason}"
        lines.append("| " + " | ".join(md(c) for c in cells) + " |")
    lines += ["", md(_method(comparison)), ""]
    return "\n".join(lines)


def render_junit(comparison: Comparison) -> str:
    """JUnit XML: one testcase a metric; WORSE fails, INCONCLUSIVE and NO DATA are skipped."""
    name = f"compare.{comparison.a.name}"
    suites = ET.Element("testsuites", name="edgeperf compare")
    suite = ET.SubElement(suites, "testsuite", name=name)
    failures = skipped = 0
    for r in comparison.rows:
        case = ET.SubElement(suite, "testcase", classname=name, name=r.metric, time="0")
        text = " ".join(_cells(r)[1:6])
        message = f"{r.verdict}: B − A {format_value(r.delta, r.unit, signed=True)}; {r.reason}"
        if r.verdict == WORSE:
            failures += 1
            ET.SubElement(case, "failure", message=message, type=WORSE).text = text
        elif r.verdict in (INCONCLUSIVE, NO_DATA):
            skipped += 1
            ET.SubElement(case, "skipped", message=message).text = text
        else:
            ET.SubElement(case, "system-out").text = message
    counts = {"tests": len(suite), "failures": failures, "errors": 0, "skipped": skipped}
    for element in (suite, suites):
        element.attrib.update({k: str(v) for k, v in counts.items()})
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def render_html(comparison: Comparison, charts: list[Any]) -> str:
    """The compare page (pure): verdicts first, then the charts with their numbers."""
    return (
        environment()
        .get_template("compare.html")
        .render(
            summary=to_dict(comparison),
            rows=[(_cells(r), r) for r in comparison.rows],
            head=HEAD,
            charts=charts,
            badge=_BADGE,
        )
    )


def write_comparison(folder: Path, comparison: Comparison) -> list[Path]:
    """Write compare.json, summary.md, junit.xml, the charts and compare.html, each atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    document = json.dumps(to_dict(comparison), indent=2, allow_nan=False)
    written = [
        write_text_atomic(folder / RESULT_FILE, document),
        write_text_atomic(folder / SUMMARY_MD_FILE, render_summary_md(comparison)),
        write_text_atomic(folder / JUNIT_FILE, render_junit(comparison)),
    ]
    charts = render_figures(compare_chart_specs(comparison), file_store(folder, "."))
    written += [c.path for c in charts if c.path is not None]
    written.append(write_text_atomic(folder / REPORT_FILE, render_html(comparison, charts)))
    return written


def compare_and_write(
    run_a: Path,
    run_b: Path,
    tolerances: Mapping[str, Tolerance] | None = None,
    out_root: Path = Path("reports"),
) -> tuple[Comparison, Path]:
    """Compare two run directories and write the compare folder under ``out_root``."""
    comparison = compare_runs(run_a, run_b, tolerances)
    folder = compare_folder(out_root, run_a, run_b)
    write_comparison(folder, comparison)
    return comparison, folder


__all__ = [
    "JUNIT_FILE",
    "REPORT_FILE",
    "RESULT_FILE",
    "SUMMARY_MD_FILE",
    "compare_and_write",
    "compare_folder",
    "format_comparison",
    "render_html",
    "render_junit",
    "render_summary_md",
    "to_dict",
    "write_comparison",
]
