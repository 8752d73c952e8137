"""An overhead experiment folder: per-run figures, paired deltas, budget verdicts, report.

An A/A calibration folder (the plan says ``"calibration": true``: the baseline ran on both sides)
goes through the same code; its budgets are judged on the minimum detectable effect instead
(RESOLVES / TOO NOISY) and the experiment passes when every budget is resolvable.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.contract.atomic import write_text_atomic
from analysis.contract.statuses import exit_code
from analysis.outputs.overhead_charts import render_overhead_chart
from analysis.outputs.templating import environment
from analysis.overhead.stats import (
    INCONCLUSIVE,
    MEASURED,
    POWER,
    TOO_NOISY,
    BudgetVerdict,
    aa_excludes_zero,
    calibration_status,
    deltas_from_runs,
    judge_budget,
    judge_calibration,
    overall_status,
    report_delta,
)
from analysis.reading.errors import RunDirError

PLAN_FILE = "overhead-plan.json"
RESULT_FILE = "overhead.json"
REPORT_FILE = "overhead.html"
UNITS = {
    "latency_p50_ms": "ms",
    "latency_p95_ms": "ms",
    "latency_p99_ms": "ms",
    "memory_bytes": "bytes",
    "cpu_percent": "%",  # percentage points of one core
    "network_mbps": "Mbit/s",
}
VARIANTS = ("baseline", "treatment")
# The terminal's and the report's name of each kind of two-arm experiment.
TITLES = {"overhead": "overhead", "gateway": "gateway vs direct"}
MDE_MEANING = (
    "MDE: the smallest telemetry cost this experiment could tell from zero, 80 % of the time "
    "(minimum detectable effect at the 95 % level, from the pairs' spread)"
)


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def run_figures(summary: dict[str, Any]) -> dict[str, float]:
    """One figure per budget metric from a run's summary.json (NaN where it has none)."""
    m = summary.get("measurements") or {}
    latency = m.get("latency_ms") or {}
    server = m.get("server") or {}
    bytes_per_s = _number(((server.get("others") or {}).get("otlp_bytes_per_s") or {}).get("value"))
    return {
        "latency_p50_ms": _number(latency.get("p50")),
        "latency_p95_ms": _number(latency.get("p95")),
        "latency_p99_ms": _number(latency.get("p99")),
        "memory_bytes": _number(server.get("memory_max_bytes")),
        "cpu_percent": _number(server.get("cpu_mean_percent")),
        # No OTLP series at all while telemetry is off means nothing was exported: 0, not NaN.
        "network_mbps": 0.0 if math.isnan(bytes_per_s) else bytes_per_s * 8 / 1e6,
    }


@dataclass(frozen=True)
class ExperimentResult:
    summary: dict[str, Any]
    figures: pd.DataFrame  # pair, variant, order, run_dir, metric, value
    verdicts: list[BudgetVerdict]
    status: str
    exit_code: int
    table: str


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(path, "file not found; is this an overhead experiment folder?") from None
    except (OSError, ValueError) as exc:
        raise RunDirError(path, f"cannot read: {exc}") from None


def _network_figure(
    run: dict[str, Any], figures: dict[str, float], summary: dict, calibration: bool
) -> None:
    has_otlp = "otlp_bytes_per_s" in ((summary.get("measurements") or {}).get("server") or {}).get(
        "others", {}
    )
    # In an A/A calibration the treatment side runs the baseline: no export there is a zero too.
    if not has_otlp and run["variant"] == "treatment" and not calibration:
        figures["network_mbps"] = math.nan  # telemetry on but no export seen: not a zero


def analyze_experiment(folder: Path) -> ExperimentResult:
    """Read the plan and every run's summary.json; judge each budget (pure but for reading)."""
    plan = _read_json(folder / PLAN_FILE)
    spec = plan.get("spec") or {}
    budgets: dict[str, float] = spec.get("budgets") or {}
    reported = [m for m in spec.get("reported") or () if m not in budgets]
    calibration = bool(plan.get("calibration", spec.get("calibrate", False)))
    kind = str(spec.get("kind") or "overhead")
    labels = dict(zip(VARIANTS, spec.get("labels") or VARIANTS, strict=True))
    rows = []
    for run in plan.get("runs", []):
        summary_path = folder / run["run_dir"] / "summary.json"
        summary = _read_json(summary_path) if summary_path.exists() else {}
        figures = run_figures(summary)
        _network_figure(run, figures, summary, calibration)
        for metric, value in figures.items():
            rows.append({**{k: run[k] for k in ("pair", "variant", "order", "run_dir")},
                         "metric": metric, "value": value})  # fmt: skip
    frame = pd.DataFrame(rows, columns=["pair", "variant", "order", "run_dir", "metric", "value"])
    shown = [*budgets, *reported]
    deltas = deltas_from_runs(frame[frame["metric"].isin(shown)]) if len(frame) else {}
    judge = judge_calibration if calibration else judge_budget
    verdicts = [judge(m, float(b), deltas.get(m)) for m, b in budgets.items()]
    # A reported metric that no run has (memory without a profile for it) is left out.
    measured = frame[frame["value"].notna()]["metric"] if len(frame) else pd.Series(dtype=str)
    verdicts += [report_delta(m, deltas.get(m)) for m in reported if m in set(measured)]
    if calibration:
        status = calibration_status(verdicts)
    else:
        status = overall_status(verdicts, bool(spec.get("allow_inconclusive", False)))
    if plan.get("interrupted"):
        status = "INTERRUPTED"
    summary_out = {
        "scenario": plan.get("scenario"),
        "kind": kind,
        "labels": labels,
        "status": status,
        "calibration": calibration,
        "pairs_planned": spec.get("pairs"),
        "runs": plan.get("runs", []),
        "budgets": [_verdict_dict(v, calibration) for v in verdicts],
        "method": (
            "per-run figures; paired deltas treatment − baseline; 95 % interval = bootstrap over "
            "pairs (expanded percentile) joined with Student's t; exact Wilcoxon signed-rank p"
        ),
        "mde_method": (
            f"MDE = (t(0.975, n−1) + t({POWER:g}, n−1)) · sd / √n over the n pairs' deltas: the "
            f"smallest true mean delta detected with {POWER * 100:.0f} % power at the 95 % "
            "level; pairs_to_resolve (when the MDE is above the budget) brings it to half of it"
        ),
    }
    return ExperimentResult(
        summary=summary_out,
        figures=frame,
        verdicts=verdicts,
        status=status,
        exit_code=exit_code(status),
        table=format_budget_table(
            verdicts, status, str(plan.get("scenario")), calibration, kind, labels
        ),
    )


def _verdict_dict(v: BudgetVerdict, calibration: bool = False) -> dict[str, Any]:
    d = v.delta
    return {
        "metric": v.metric,
        "unit": UNITS.get(v.metric, ""),
        "budget": None if math.isnan(v.budget) else v.budget,
        "status": v.status,
        "reason": v.reason,
        "more_pairs": v.more_pairs,
        "mde": None if math.isnan(v.mde) else v.mde,
        "mde_above_budget": None if math.isnan(v.mde) or math.isnan(v.budget) else v.mde > v.budget,
        "pairs_to_resolve": v.pairs_to_resolve,
        # Only meaningful in an A/A calibration: an interval off zero there is order or drift.
        "aa_excludes_zero": aa_excludes_zero(d) if calibration else None,
        "delta": None if d is None else {
            "mean": d.mean, "low": d.low, "high": d.high, "pairs": d.pairs,
            "wilcoxon_p": d.wilcoxon_p, "per_pair": list(d.deltas),
        },
    }  # fmt: skip


def _fmt(value: float, metric: str, sign: str = "+") -> str:
    """A figure in its metric's unit for people: memory in MB, the rest to 3-4 digits."""
    if value != value:  # NaN
        return "—"
    if metric == "memory_bytes":
        return f"{value / 1e6:{sign}.1f} MB"
    return f"{value:{sign}.4g} {UNITS.get(metric, '')}".strip()


def _shows_reason(v: BudgetVerdict, calibration: bool) -> bool:
    """Rows whose reason the terminal prints: unsettled, unresolvable, or an A/A drift."""
    return (
        v.status in (INCONCLUSIVE, TOO_NOISY)
        or v.pairs_to_resolve is not None
        or (calibration and aa_excludes_zero(v.delta))
        or (v.status == MEASURED and not aa_excludes_zero(v.delta))
    )


def format_budget_table(
    verdicts: list[BudgetVerdict],
    status: str,
    name: str,
    calibration: bool = False,
    kind: str = "overhead",
    labels: dict[str, str] | None = None,
) -> str:
    """Plain-text budget table for the terminal, the MDE beside each verdict."""
    arms = labels or {v: v for v in VARIANTS}
    delta_head = "A/A delta" if calibration else "delta"
    lines = [f"A/A calibration: the baseline ran as both A and B ({name})"] if calibration else []
    if kind != "overhead":
        lines.append(f"delta: {arms['treatment']} − {arms['baseline']}, per pair of runs")
    first = "budget" if kind == "overhead" else "metric"
    lines.append(
        f"{first:<16} {'limit':>12} {delta_head:>14} {'95 % interval':>28} {'MDE':>12}  status"
    )
    for v in verdicts:
        d = v.delta
        limit = _fmt(v.budget, v.metric)
        if d is None:
            lines.append(f"{v.metric:<16} {limit:>12} {'—':>14} {'—':>28} {'—':>12}  {v.status}")
            continue
        interval = f"[{_fmt(d.low, v.metric)}, {_fmt(d.high, v.metric)}]"
        mde = _fmt(v.mde, v.metric, "")
        row = (
            f"{v.metric:<16} {limit:>12} {_fmt(d.mean, v.metric):>14} {interval:>28} {mde:>12}"
            f"  {v.status}"
        )
        if _shows_reason(v, calibration):
            row += f"  ({v.reason})"
        lines.append(row)
    lines.append(MDE_MEANING if kind == "overhead" else MDE_MEANING.replace("telemetry", kind))
    title = "A/A calibration" if calibration else TITLES.get(kind, kind)
    lines.append(f"{name} {title}: {status}")
    return "\n".join(lines)


# The report's badge colour per budget status (the stylesheet knows pass, fail and no-data).
_BADGE = {
    "WITHIN": "pass",
    "RESOLVES": "pass",
    "EXCEEDS": "fail",
    "INCONCLUSIVE": "incomplete",
    "TOO NOISY": "incomplete",
    "NO DATA": "no-data",
    "MEASURED": "pass",
}


def render_overhead(result: ExperimentResult, chart: str | None) -> str:
    """The experiment page (pure): budgets first, then the per-run figures."""
    wide = result.figures.pivot_table(
        index=["pair", "variant", "run_dir"], columns="metric", values="value", aggfunc="first"
    ).reset_index() if len(result.figures) else pd.DataFrame()  # fmt: skip
    return (
        environment()
        .get_template("overhead.html")
        .render(
            summary=result.summary,
            chart=chart,
            runs=wide.to_dict("records"),
            metrics=list(UNITS),
            units=UNITS,
            fmt=_fmt,
            badge=_BADGE,
            titles=TITLES,
        )
    )


def write_experiment(folder: Path, result: ExperimentResult) -> list[Path]:
    """Write overhead.json, the chart and overhead.html, each atomically."""
    out = [folder / RESULT_FILE]
    write_text_atomic(out[0], json.dumps(result.summary, indent=2, allow_nan=False, default=str))
    arms = result.summary.get("labels") or {}
    xlabel = f"{arms.get('treatment', 'treatment')} − {arms.get('baseline', 'baseline')}"
    chart = render_overhead_chart(result.verdicts, folder, xlabel)
    html = render_overhead(result, chart.name if chart else None)
    write_text_atomic(folder / REPORT_FILE, html)
    return [*out, *([chart] if chart else []), folder / REPORT_FILE]


__all__ = [
    "MDE_MEANING",
    "PLAN_FILE",
    "REPORT_FILE",
    "RESULT_FILE",
    "ExperimentResult",
    "analyze_experiment",
    "format_budget_table",
    "run_figures",
    "write_experiment",
]
