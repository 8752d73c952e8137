"""The reports index (``reports/index.html``): every run, newest first, and trends per scenario.

``update_index(reports_dir)`` rebuilds it from the run folders' summary.json and metadata.json
alone; ``write_outputs`` calls it for run folders named like ``edgeperf run`` names them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
from matplotlib.axes import Axes

from analysis.contract.atomic import write_text_atomic
from analysis.contract.schema import INDEX_FILE, REPORT_FILE
from analysis.contract.targets import Target, TargetSyntaxError
from analysis.history.regressions import FIGURES, Regression, RunRecord, read_history, regressions
from analysis.outputs.charts import ChartFile, ChartSpec, inline_store, render_figures
from analysis.outputs.formatting import format_value
from analysis.outputs.plots import plot_trend
from analysis.outputs.report import REGRESSION_RULE
from analysis.outputs.templating import environment

TEMPLATE = "index.html"
TREND_RUNS = 50  # the trend charts show the latest runs of each group
TREND_GROUPS = 12  # and only the groups with the most recent runs (all runs stay in the table)
TREND_SIZE_IN = (4.6, 2.6)
_COLUMNS = (("rate_rps", "rate", "req/s"), *((f, FIGURES[f][0], FIGURES[f][1]) for f in FIGURES))
# figure -> (verdict metric whose target is drawn, display scale, axis label)
_TRENDS = {
    "p95_ms": ("latency_p95_ms", 1.0, "P95 (ms)"),
    "p99_ms": ("latency_p99_ms", 1.0, "P99 (ms)"),
    "memory_bytes": ("memory_bytes", 1e-6, "memory max (MB)"),
    "cpu_percent": ("cpu_percent", 1.0, "CPU mean (%)"),
}


def _slug(group: str) -> str:
    """A file-name-safe, unique name for a group."""
    text = re.sub(r"[^a-z0-9]+", "-", group.lower()).strip("-")[:40]
    return f"{text}-{hashlib.sha256(group.encode()).hexdigest()[:8]}"


def _stamp(record: RunRecord) -> str:
    return record.started.strftime("%Y-%m-%d %H:%M:%S")


def _target(text: str | None) -> Target | None:
    try:
        return Target.parse(text) if text else None
    except TargetSyntaxError:
        return None


def trend_frame(
    records: Sequence[RunRecord], figure: str, flagged: dict[str, list[Regression]]
) -> pd.DataFrame:
    """``position``, ``value`` (display units), ``status``, ``regression`` of a group's runs."""
    scale = _TRENDS[figure][1]
    values = [r.figures.get(figure) for r in records]
    return pd.DataFrame(
        {
            "position": list(range(len(records))),
            "value": [None if v is None else v * scale for v in values],
            "status": [r.status for r in records],
            "regression": [
                any(g.figure == figure for g in flagged.get(r.run_id, [])) for r in records
            ],
        }
    ).astype({"value": "float64"})


def _trend_draw(
    frame: pd.DataFrame, label: str, ticks: list[str], target: Target | None, scale: float
) -> Any:
    def draw(ax: Axes) -> None:
        plot_trend(ax, frame, label, ticks, target, scale)

    return draw


def trend_specs(
    history: Sequence[RunRecord], flagged: dict[str, list[Regression]]
) -> dict[str, list[ChartSpec]]:
    """Four trend charts (P95, P99, memory, CPU) for each group of runs, latest group first.

    Only the ``TREND_GROUPS`` groups with the most recent runs are drawn.
    """
    groups: dict[str, list[RunRecord]] = {}
    for record in sorted(history, key=lambda r: (r.started, r.run_id), reverse=True):
        groups.setdefault(record.group, []).append(record)
    specs: dict[str, list[ChartSpec]] = {}
    for group, newest_first in list(groups.items())[:TREND_GROUPS]:
        records = list(reversed(newest_first[:TREND_RUNS]))
        ticks = [r.started.strftime("%m-%d %H:%M") for r in records]
        slug = _slug(group)
        specs[group] = []
        for figure, (metric, scale, label) in _TRENDS.items():
            frame = trend_frame(records, figure, flagged)
            target = _target(records[-1].targets.get(metric))
            draw = _trend_draw(frame, label, ticks, target, scale)
            name = f"trend-{slug}-{figure.split('_')[0]}"
            title = FIGURES[figure][0]
            specs[group].append(ChartSpec(name, title, "", draw, size_in=TREND_SIZE_IN))
    return specs


def _figure_cells(record: RunRecord) -> list[str]:
    return [format_value(record.figures.get(key), unit) for key, _, unit in _COLUMNS]


def build_index_view(
    history: Sequence[RunRecord],
    flagged: dict[str, list[Regression]],
    trends: dict[str, list[ChartFile]],
) -> dict[str, Any]:
    """The index page's plain view model (pure)."""
    newest = sorted(history, key=lambda r: (r.started, r.run_id), reverse=True)
    runs = [
        {
            "started": _stamp(r),
            "run_id": r.run_id,
            "href": f"{quote(r.run_id)}/{REPORT_FILE}" if r.has_report else "",
            "scenario": r.scenario,
            "setup": r.setup,
            "status": r.status,
            "status_class": r.status.lower().replace(" ", "-"),
            "figures": _figure_cells(r),
            "regressions": [
                {"short": g.short(), "long": g.describe()} for g in flagged.get(r.run_id, [])
            ],
            "problem": r.problem,
        }
        for r in newest
    ]
    groups = []
    for group, charts in trends.items():
        members = [r for r in newest if r.group == group][:TREND_RUNS]
        groups.append(
            {
                "title": group,
                "charts": [{"href": c.href, "title": c.title} for c in charts if c.href],
                "head": ["run", "status", *(label for _, label, _ in _COLUMNS), "regression"],
                "rows": [
                    [_stamp(r), r.status, *_figure_cells(r), "yes" if r.run_id in flagged else ""]
                    for r in members
                ],
            }
        )
    return {
        "runs": runs,
        "columns": [label for _, label, _ in _COLUMNS],
        "groups": groups,
        "regression_rule": REGRESSION_RULE,
        "regression_count": sum(1 for r in runs if r["regressions"]),
    }


def render_index(view: dict[str, Any]) -> str:
    """The index page for ``view``; everything from the runs is autoescaped."""
    return environment().get_template(TEMPLATE).render(**view)


def update_index(reports_dir: Path) -> Path:
    """Rebuild ``reports_dir/index.html`` from the run folders in it; return its path.

    The trend charts are inside the page (data: URIs), so the folder keeps nothing but run
    folders and this one file.
    """
    reports_dir = Path(reports_dir)
    history = read_history(reports_dir)
    flagged = regressions(history)
    trends = {
        group: render_figures(specs, inline_store)
        for group, specs in trend_specs(history, flagged).items()
    }
    html = render_index(build_index_view(history, flagged, trends))
    return write_text_atomic(reports_dir / INDEX_FILE, html)


write_index = update_index

__all__ = [
    "build_index_view",
    "render_index",
    "trend_frame",
    "trend_specs",
    "update_index",
    "write_index",
]
