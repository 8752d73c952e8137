"""Runs side by side: key figures of every run in a reports folder and the regression rule.

The noise rule (also in docs/run-directory.md): a figure F of a run regresses when

    F - F_base > max(REL_TOLERANCE * F_base, SPREAD_FACTOR * spread, ABS_FLOOR[F])

where F_base is F of the latest earlier *passing* run of the same group (same scenario, same
scheduled rate, same target: the embedded stand-in or one host), and spread is max - min of F over
the latest ``SPREAD_RUNS`` earlier passing runs of that group (0 with a single one). Passing means
no target was missed: status PASS, or INCOMPLETE (no FAIL, some NO DATA). F is each of P95, P99,
memory and CPU; all are worse when higher.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from analysis.contract.schema import METADATA_FILE, REPORT_FILE, SUMMARY_FILE
from analysis.judging.result import RunResult
from analysis.outputs.formatting import format_value

REL_TOLERANCE = 0.10
SPREAD_FACTOR = 1.5
SPREAD_RUNS = 5
PASSING = ("PASS", "INCOMPLETE")
# figure -> (label, unit, absolute floor of the allowance in that unit)
FIGURES: dict[str, tuple[str, str, float]] = {
    "p95_ms": ("P95", "ms", 0.5),
    "p99_ms": ("P99", "ms", 1.0),
    "memory_bytes": ("memory", "bytes", 10e6),
    "cpu_percent": ("CPU", "%", 2.0),
}
RUN_DIR_NAME = re.compile(r"^(\d{8}T\d{6}Z)-.+$")  # <UTC stamp>-<scenario>, as `edgeperf run` names


@dataclass(frozen=True)
class RunRecord:
    """One run folder as the index sees it; ``figures`` are None when unmeasured."""

    run_id: str
    started: datetime
    scenario: str
    status: str
    setup: str  # scheduled rate and target, e.g. "1000 req/s · embedded stand-in"
    figures: dict[str, float | None] = field(default_factory=dict)
    rate_rps: float | None = None
    targets: dict[str, str] = field(default_factory=dict)  # verdict metric -> target text
    has_report: bool = False
    problem: str = ""

    @property
    def group(self) -> str:
        """Runs of one group are compared with each other: same scenario, rate and target."""
        return f"{self.scenario} · {self.setup}"


@dataclass(frozen=True)
class Regression:
    """A figure worse than the baseline run's by more than the noise allowance."""

    figure: str
    value: float
    baseline: float
    allowed: float
    baseline_run: str
    runs_in_spread: int

    def _parts(self) -> tuple[str, str, str, str]:
        label, unit, _ = FIGURES[self.figure]
        worse = 100.0 * (self.value - self.baseline) / self.baseline if self.baseline else None
        share = f" ({worse:+.0f} %)" if worse is not None else ""
        return label, format_value(self.value, unit), format_value(self.baseline, unit), share

    def short(self) -> str:
        """``P95 12.212 ms vs 5.915 ms (+106 %)``: for the index."""
        label, value, baseline, share = self._parts()
        return f"{label} {value} vs {baseline}{share}"

    def describe(self) -> str:
        """The whole sentence: which run it is compared with and the allowance it went beyond."""
        label, value, baseline, share = self._parts()
        allowed = format_value(self.allowed, FIGURES[self.figure][1])
        return (
            f"{label} {value} vs {baseline} in {self.baseline_run}{share}: worse by more than the "
            f"run-to-run noise allowance of {allowed} "
            f"(from {self.runs_in_spread} earlier passing run(s))"
        )


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is named like the folders ``edgeperf run`` writes (<UTC stamp>-<name>)."""
    return RUN_DIR_NAME.match(path.name) is not None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _started(result: RunResult, metadata: dict[str, Any], name: str) -> datetime:
    text = result.run.started_utc or metadata.get("started_utc")
    try:
        when = datetime.fromisoformat(str(text))
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    except ValueError:
        pass
    match = RUN_DIR_NAME.match(name)
    if match:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.min.replace(tzinfo=UTC)


def _setup(metadata: dict[str, Any]) -> str:
    rate = _number((metadata.get("load") or {}).get("rate_rps"))
    where = "embedded stand-in"
    if not metadata.get("embedded"):
        parts = urlsplit(str(metadata.get("target") or ""))
        where = parts.hostname or "unknown target"
        where += f":{parts.port}" if parts.port else ""
    rate_text = f"{rate:g} req/s" if rate is not None else "rate unknown"
    return f"{rate_text} · {where}"


def figures_of(result: RunResult) -> dict[str, float | None]:
    """The index's key figures of a run result: rate, P95, P99, memory max, CPU mean."""
    m = result.measurements
    return {
        "rate_rps": _number(m.rate_rps),
        "p95_ms": _number(m.latency_ms.p95),
        "p99_ms": _number(m.latency_ms.p99),
        "memory_bytes": _number(m.server.memory_max_bytes),
        "cpu_percent": _number(m.server.cpu_mean_percent),
    }


def _read_json(path: Path) -> tuple[dict[str, Any], str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, f"no {path.name}"
    except (OSError, ValueError) as exc:
        return {}, f"{path.name} unreadable: {exc}"
    return (data, "") if isinstance(data, dict) else ({}, f"{path.name} is not an object")


def read_record(run_dir: Path) -> RunRecord | None:
    """The record of one run folder; None when it holds neither summary.json nor metadata.json."""
    summary, summary_problem = _read_json(run_dir / SUMMARY_FILE)
    metadata, metadata_problem = _read_json(run_dir / METADATA_FILE)
    if not summary and not metadata:
        return None
    result = RunResult.from_dict(summary)  # lenient: an older or odd file still gives a record
    scenario = result.scenario or str(metadata.get("scenario") or run_dir.name)
    targets = {v.metric: v.target for v in result.verdicts}
    return RunRecord(
        run_id=run_dir.name,
        started=_started(result, metadata, run_dir.name),
        scenario=scenario,
        status=result.status or "NOT ANALYSED",
        setup=_setup(metadata),
        figures=figures_of(result),
        rate_rps=_number((metadata.get("load") or {}).get("rate_rps")),
        targets=targets,
        has_report=(run_dir / REPORT_FILE).is_file(),
        problem=summary_problem or metadata_problem,
    )


def read_history(reports_dir: Path) -> list[RunRecord]:
    """Every run folder directly under ``reports_dir``, oldest first."""
    records = [
        record
        for path in sorted(p for p in reports_dir.iterdir() if p.is_dir())
        if not path.name.startswith(".") and (record := read_record(path)) is not None
    ]
    return sorted(records, key=lambda r: (r.started, r.run_id))


def find_regressions(run: RunRecord, history: Sequence[RunRecord]) -> list[Regression]:
    """``run``'s figures against the earlier passing runs of its group in ``history`` (pure)."""
    earlier = [
        r
        for r in history
        if r.group == run.group
        and r.status in PASSING
        and (r.started, r.run_id) < (run.started, run.run_id)
    ]
    found = []
    for figure, (_, _, floor) in FIGURES.items():
        value = run.figures.get(figure)
        measured = [r for r in earlier if r.figures.get(figure) is not None]
        if value is None or not measured:
            continue
        recent = measured[-SPREAD_RUNS:]
        values = [float(r.figures[figure] or 0.0) for r in recent]
        baseline = values[-1]
        allowed = max(REL_TOLERANCE * baseline, SPREAD_FACTOR * (max(values) - min(values)), floor)
        if value - baseline > allowed:
            found.append(
                Regression(figure, value, baseline, allowed, recent[-1].run_id, len(recent))
            )
    return found


def regressions(history: Sequence[RunRecord]) -> dict[str, list[Regression]]:
    """The regressions of every run in ``history`` (only runs with some are keys)."""
    out = {}
    for run in history:
        found = find_regressions(run, history)
        if found:
            out[run.run_id] = found
    return out


__all__ = [
    "FIGURES",
    "PASSING",
    "REL_TOLERANCE",
    "SPREAD_FACTOR",
    "SPREAD_RUNS",
    "Regression",
    "RunRecord",
    "figures_of",
    "find_regressions",
    "is_run_dir",
    "read_history",
    "read_record",
    "regressions",
]
