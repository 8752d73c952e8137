"""The public surface of analysis: analyse a run directory, write its outputs, print verdicts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from analysis.contract.atomic import write_text_atomic
from analysis.contract.schema import (
    CHARTS_DIR,
    INDEX_FILE,
    JUNIT_FILE,
    REPORT_FILE,
    SUMMARY_FILE,
    SUMMARY_MD_FILE,
)
from analysis.history.index import update_index
from analysis.history.regressions import find_regressions, is_run_dir, read_history
from analysis.judging.bounds import otlp_bound_decided
from analysis.judging.result import RunResult
from analysis.judging.summary import build_summary
from analysis.judging.verdicts import (
    exit_code,
    judge,
    overall_status,
    run_warnings,
    stall_decided,
    verdict_measurements,
)
from analysis.measuring.client import client_from, judged_window, not_sent_in
from analysis.measuring.interrupted import ran_window, unjudged
from analysis.measuring.llm import llm_from, llm_summary, llm_verdict_measurements, run_slo
from analysis.measuring.replay import replay_from
from analysis.measuring.serverside import measure_server
from analysis.measuring.sessions import sessions_from, sessions_summary
from analysis.measuring.stalls import stall_summary, stall_warnings, stalls_of
from analysis.measuring.streaming import stream_kinds
from analysis.measuring.sweep import SweepPlan, sweep
from analysis.measuring.tally import Tally
from analysis.measuring.timeseries import time_origin_us
from analysis.outputs.chartdata import ChartInputs, chart_inputs
from analysis.outputs.charts import render_charts
from analysis.outputs.ci import render_junit, render_summary_md
from analysis.outputs.formatting import format_value
from analysis.outputs.memorychart import memory_fit
from analysis.outputs.otlp_sections import otlp_sections
from analysis.outputs.redact import Redactor, env_secrets
from analysis.outputs.replay_sections import replay_sections
from analysis.outputs.report import build_view, render_report, write_report
from analysis.outputs.session_sections import session_sections
from analysis.outputs.shape_sections import shape_sections
from analysis.reading.errors import RunDirError
from analysis.reading.rundir import RunData, load_run, open_run
from analysis.shapes.spike import spike_ranges
from analysis.shapes.staged import (
    analyze_shape,
    run_criteria,
    shape_measurements,
    shape_verdict_measurements,
)
from analysis.shapes.stages import stages_from


@dataclass(frozen=True)
class RunAnalysis:
    """The result of analysing one run: the typed summary plus what the charts draw."""

    run_dir: Path
    result: RunResult
    status: str
    exit_code: int
    metadata: dict[str, Any]
    charts: ChartInputs
    redactor: Redactor = field(default_factory=Redactor)

    @property
    def summary(self) -> dict[str, Any]:
        """The ``summary.json`` document as a plain dict (renderers read ``result``)."""
        return self.result.to_dict()


def analyze(run: RunData, redactor: Redactor | None = None) -> RunAnalysis:
    """Measure, judge and summarise a run, its samples read block by block in one sweep.

    Every string that reaches an output passes ``redactor`` (secrets become ``<redacted>``).
    """
    redactor = redactor or Redactor()
    run = replace(run, metadata=redactor.data(run.metadata))
    source = run.sample_source()
    span = source.span()
    ran = ran_window(run.metadata, span, judged_window(run.metadata, span))
    window = ran.window  # of an interrupted run, the part of the steady window that ran
    load = run.metadata.get("load") or {}
    slo, criteria = run_slo(run), run_criteria(run)
    stage_plan = list(load.get("stages") or [])
    plan = SweepPlan(
        window,
        time_origin_us(run.metadata, span),
        int(load.get("start_us") or 0),
        stage_plan,
        spike_ranges(stages_from(Tally(), stage_plan, criteria)),
        stream_kinds(run.scenario),
        slo,
        replay="trace" in load,
    )
    swept = sweep(source, span, plan)
    client = client_from(swept.tally, window, not_sent_in(run.metadata, window))
    server = measure_server(run.series, run.queries, window, run.has_series)
    llm = llm_from(swept.tally, window, slo)
    shape = analyze_shape(run, window, server, (swept.tally, swept.spikes), plan.origin_us)
    measured = verdict_measurements(client, server) | llm_verdict_measurements(llm)
    measured |= shape_verdict_measurements(shape)
    if ran.nothing_judged:  # interrupted before the steady window: NO DATA, never a PASS
        measured = unjudged(measured, ran.note)
    stalls, attribution = stalls_of(source, swept.late, run.metadata, window, swept.tally)
    verdicts = stall_decided(judge(run.targets, measured), run.targets, attribution)
    verdicts = otlp_bound_decided(verdicts, run.targets, server.otlp)
    status = overall_status(verdicts, run.metadata.get("outcome", "unknown"), server.problems)
    outages = swept.outages
    origin_us = plan.origin_us or 0
    warnings = [*filter(None, [ran.note]), *(o.describe() for o in outages)]
    warnings += run_warnings(run.metadata, client, run.targets, server.problems)
    warnings += stall_warnings(stalls, origin_us)
    extra = llm_summary(llm, client.by_kind) | shape_measurements(shape)
    extra["outages"] = [asdict(o) for o in outages]
    extra |= stall_summary(stalls, attribution, origin_us)
    extra |= sessions_summary(sessions_from(swept.tally))
    replay = replay_from(swept.tally, run.metadata)
    if replay is not None:
        extra["replay"] = replay.as_dict()
    summary = redactor.data(build_summary(run, client, server, verdicts, status, warnings, extra))
    result = RunResult.from_dict(summary, exact=True)  # a mismatch with the model raises
    charts = chart_inputs(run, window, redactor, stalls, swept)
    charts = replace(charts, memory_fit=memory_fit(shape.memory))
    return RunAnalysis(
        run.run_dir, result, status, exit_code(status), run.metadata, charts, redactor
    )


def analyze_run(run_dir: Path | str, environ: Mapping[str, str] | None = None) -> RunAnalysis:
    """Read ``run_dir`` and analyse it; raise RunDirError when it cannot be read.

    Values of secret-looking variables of ``environ`` (default: this process' environment) are
    kept out of every output.
    """
    secrets = env_secrets(os.environ if environ is None else environ)
    return analyze(open_run(run_dir), Redactor(secrets))


def write_outputs(run_dir: Path | str, analysis: RunAnalysis) -> list[Path]:
    """Write summary.json, junit.xml, summary.md, charts/*.png and index.html, each atomically.

    When ``run_dir`` is named like the folders ``edgeperf run`` writes (``<UTC stamp>-<name>``),
    its report is compared with the earlier runs beside it (regressions) and the reports index
    of its parent folder (``../index.html``) is rebuilt.
    """
    run_dir = Path(run_dir)
    clean = analysis.redactor.text
    written = [write_text_atomic(run_dir / SUMMARY_FILE, clean(analysis.result.to_json()))]
    reports_dir = run_dir.parent if is_run_dir(run_dir) else None
    found = []
    if reports_dir is not None:
        history = read_history(reports_dir)
        this = next((r for r in history if r.run_id == run_dir.name), None)
        found = [g.describe() for g in find_regressions(this, history)] if this else []
    written.append(write_text_atomic(run_dir / JUNIT_FILE, clean(render_junit(analysis.result))))
    summary_md = render_summary_md(analysis.result, found)
    written.append(write_text_atomic(run_dir / SUMMARY_MD_FILE, clean(summary_md)))
    charts = render_charts(analysis.charts, run_dir / CHARTS_DIR)
    drawn = {chart.path for chart in charts if chart.path is not None}
    for stale in (run_dir / CHARTS_DIR).glob("*.png"):
        if stale not in drawn:  # a chart an earlier analysis drew but this one does not
            stale.unlink(missing_ok=True)
    written += sorted(drawn)
    index_href = f"../{INDEX_FILE}" if reports_dir is not None else ""
    view = build_view(
        analysis.result,
        charts,
        analysis.metadata,
        regressions=found,
        index_href=index_href,
        extra_sections=shape_sections(analysis.result)
        + replay_sections(analysis.result)
        + otlp_sections(analysis.result)
        + session_sections(analysis.result),
    )
    written.append(write_report(run_dir / REPORT_FILE, clean(render_report(view))))
    if reports_dir is not None:
        written.append(update_index(reports_dir))
    return written


def format_verdict_table(result: RunResult) -> str:
    """A plain-text verdict table for the terminal; NO DATA rows show their reason."""
    head = ("metric", "target", "measured", "status")
    rows = [
        (
            v.metric,
            v.target,
            format_value(v.measured, v.unit),
            v.status + (f"  ({v.reason})" if v.reason else ""),
        )
        for v in result.verdicts
    ]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row))
        for row in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in [*widths, len(head[3])]))
    if not rows:
        lines.append("(the scenario has no targets)")
    lines.append(f"{result.scenario}: {result.status}")
    return "\n".join(line.rstrip() for line in lines)


__all__ = [
    "RunAnalysis",
    "RunData",
    "RunDirError",
    "RunResult",
    "analyze",
    "analyze_run",
    "chart_inputs",
    "exit_code",
    "format_verdict_table",
    "load_run",
    "open_run",
    "update_index",
    "write_outputs",
]
