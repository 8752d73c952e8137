"""A capacity folder on disk: each probe's run directory read into a trial, the outputs written.

The folder holds ``capacity.json``, ``summary.md``, ``capacity.html`` with its chart, and every
probe's ordinary run directory (each can be re-analysed alone with ``edgeperf analyze``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from analysis.capacity.document import CAPACITY_FILE, CapacityDoc
from analysis.capacity.probe import judge_probe, queue_rise, rise_limit_ms
from analysis.capacity.report import render_capacity_chart, render_html, render_summary_md
from analysis.capacity.search import Trial
from analysis.contract.atomic import write_text_atomic
from analysis.contract.schema import SUMMARY_FILE
from analysis.judging.result import Num, RunResult
from analysis.reading.rundir import load_run

REPORT_FILE = "capacity.html"
SUMMARY_MD_FILE = "summary.md"


def _f(value: Num) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def read_probe(run_dir: Path, targets: dict[str, str]) -> Trial:
    """The trial of one probe's analysed run directory (its summary.json and samples)."""
    try:
        result = RunResult.from_json((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{run_dir / SUMMARY_FILE}: cannot read the probe's summary: {exc}"
        ) from None
    m = result.measurements
    rise = None
    window = m.window
    if window is not None and window.start_us is not None and window.end_us is not None:
        samples = load_run(run_dir).samples
        if len(samples):
            rise = queue_rise(samples, int(window.start_us), int(window.end_us))
    trial = judge_probe(result, run_dir.name, rise, rise_limit_ms(targets))
    requests = _f(m.requests)
    figures = {
        "rate_rps": _f(m.rate_rps),
        "offered_rps": _f(m.offered_rps),
        "p50_ms": _f(m.latency_ms.p50),
        "p95_ms": _f(m.latency_ms.p95),
        "p99_ms": _f(m.latency_ms.p99),
        "error_percent": _f(m.errors) / requests * 100 if requests > 0 else math.nan,
        "not_sent": _f(m.not_sent),
        "send_lag_p99_ms": _f(m.send_lag_ms.p99),
        "queue_first_ms": rise.first_ms if rise else math.nan,
        "queue_last_ms": rise.last_ms if rise else math.nan,
    }
    return replace(trial, figures=figures)


def write_capacity(folder: Path, doc: CapacityDoc) -> list[Path]:
    """Write capacity.json, then the chart, summary.md and capacity.html from it, atomically."""
    write_text_atomic(folder / CAPACITY_FILE, doc.to_json())
    return render_capacity(folder)


def render_capacity(folder: Path) -> list[Path]:
    """(Re)write the chart, summary.md and capacity.html from the folder's capacity.json."""
    doc = CapacityDoc.read(folder)
    chart = render_capacity_chart(doc, folder)
    write_text_atomic(folder / SUMMARY_MD_FILE, render_summary_md(doc))
    write_text_atomic(folder / REPORT_FILE, render_html(doc, chart.name if chart else None))
    paths = [folder / CAPACITY_FILE, folder / SUMMARY_MD_FILE, folder / REPORT_FILE]
    return paths + ([chart] if chart else [])


__all__ = ["REPORT_FILE", "SUMMARY_MD_FILE", "read_probe", "render_capacity", "write_capacity"]
