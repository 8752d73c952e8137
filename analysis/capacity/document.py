"""``capacity.json``: the saved result of a capacity search, as a model every output reads.

Built once from the search (``from_search``), written, and read back (``CapacityDoc.read``) by
the renderers, so summary.md and the HTML page are functions of the saved file alone.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from analysis.capacity.search import CANNOT_JUDGE, SearchResult, Trial
from analysis.contract.statuses import EXIT_CANNOT_JUDGE, EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS
from analysis.judging.result import json_safe

CAPACITY_FILE = "capacity.json"
INTERRUPTED = "INTERRUPTED"
# Figures kept for each probe run (from its summary.json), with their units.
FIGURE_UNITS = {
    "rate_rps": "req/s",
    "offered_rps": "req/s",
    "p50_ms": "ms",
    "p95_ms": "ms",
    "p99_ms": "ms",
    "error_percent": "%",
    "not_sent": "",
    "send_lag_p99_ms": "ms",
    "queue_first_ms": "ms",
    "queue_last_ms": "ms",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrialDoc(_Model):
    """One probe run: its verdict, smallest relative margin, reasons and figures."""

    status: str
    margin: float | None = None
    reasons: list[str] = Field(default_factory=list)
    run_dir: str = ""
    figures: dict[str, float | None] = Field(default_factory=dict)


class ProbeDoc(_Model):
    """A rate and its trials; times in s from the search's start."""

    rate_rps: float
    status: str
    margin: float | None = None
    start_s: float
    end_s: float
    trials: list[TrialDoc]


class CapacityDoc(_Model):
    """The whole ``capacity.json``; ``high_rps`` is None when no rate above the capacity failed."""

    scenario: str
    status: str  # FOUND, AT_LEAST, BELOW, CANNOT_JUDGE or INTERRUPTED
    capacity_rps: float
    low_rps: float
    high_rps: float | None
    stopped: str
    required_rps: float | None = None
    exit_code: int
    why_above_failed: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    targets: dict[str, str] = Field(default_factory=dict)
    left_out: list[str] = Field(default_factory=list)
    elapsed_s: float = 0.0
    probes: list[ProbeDoc] = Field(default_factory=list)

    @classmethod
    def read(cls, folder: Path) -> CapacityDoc:
        """The document in ``folder``; a missing or unreadable file raises ValueError."""
        path = folder / CAPACITY_FILE
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a capacity result: {exc}") from None

    def to_json(self) -> str:
        return json.dumps(json_safe(self.model_dump(mode="json")), indent=2) + "\n"


def _num(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _trial(trial: Trial) -> TrialDoc:
    figures = {k: _num(v) for k, v in trial.figures.items()}
    return TrialDoc(
        status=trial.status,
        margin=_num(trial.margin),
        reasons=list(trial.reasons),
        run_dir=trial.run_dir,
        figures=figures,
    )


def exit_code_of(status: str, capacity_rps: float, required_rps: float | None) -> int:
    """0 found (or a bound), 1 below ``required_rps``, 2 cannot judge, 130 interrupted.

    A required rate that a probe passed is met whatever stopped the search.
    """
    if status == INTERRUPTED:
        return EXIT_INTERRUPTED
    if required_rps is not None:
        if capacity_rps >= required_rps:
            return EXIT_PASS
        return EXIT_CANNOT_JUDGE if status == CANNOT_JUDGE else EXIT_FAIL
    return EXIT_CANNOT_JUDGE if status == CANNOT_JUDGE else EXIT_PASS


def from_search(
    scenario: str,
    result: SearchResult,
    *,
    required_rps: float | None = None,
    interrupted: bool = False,
    broken: bool = False,
    settings: dict[str, Any] | None = None,
    targets: dict[str, str] | None = None,
    left_out: list[str] | None = None,
    elapsed_s: float = 0.0,
) -> CapacityDoc:
    """The document of a finished search; interrupted, or ``broken`` off by a probe that could
    not run (then it cannot judge, and ``result.stopped`` says why)."""
    status = INTERRUPTED if interrupted else CANNOT_JUDGE if broken else result.status
    failing = result.failing
    why = []
    if failing is not None:
        for trial in failing.trials:
            why += [r for r in trial.reasons if r not in why]
    probes = [
        ProbeDoc(
            rate_rps=p.rate_rps,
            status=p.status,
            margin=_num(p.margin),
            start_s=p.start_s,
            end_s=p.end_s,
            trials=[_trial(t) for t in p.trials],
        )
        for p in result.probes
    ]
    return CapacityDoc(
        scenario=scenario,
        status=status,
        capacity_rps=result.capacity_rps,
        low_rps=result.low_rps,
        high_rps=_num(result.high_rps),
        stopped=result.stopped,
        required_rps=required_rps,
        exit_code=exit_code_of(status, result.capacity_rps, required_rps),
        why_above_failed=why,
        settings=settings or {},
        targets=targets or {},
        left_out=left_out or [],
        elapsed_s=elapsed_s,
        probes=probes,
    )


def headline(doc: CapacityDoc) -> str:
    """One sentence: the capacity and its interval, or the bound, and what stopped the search."""
    high = f"{doc.high_rps:g}" if doc.high_rps is not None else "?"
    if doc.status in ("FOUND", INTERRUPTED) and doc.high_rps is not None and doc.low_rps > 0:
        text = (
            f"capacity {doc.capacity_rps:g} req/s: passes at {doc.low_rps:g}, fails at {high} req/s"
        )
    elif doc.status == "AT_LEAST" or (doc.high_rps is None and doc.low_rps > 0):
        text = f"capacity at least {doc.low_rps:g} req/s: no rate tried failed"
    elif doc.status == "BELOW":
        text = f"capacity below {high} req/s: no rate tried passed"
    elif doc.low_rps > 0:
        text = f"capacity at least {doc.low_rps:g} req/s; the harness could not judge {high} req/s"
    else:
        text = "capacity unknown: no probe could be judged"
    if doc.required_rps is not None:
        met = "met" if doc.capacity_rps >= doc.required_rps else "NOT met"
        text += f"; required {doc.required_rps:g} req/s: {met}"
    return f"{text} ({doc.stopped})"


__all__ = [
    "CAPACITY_FILE",
    "FIGURE_UNITS",
    "CapacityDoc",
    "ProbeDoc",
    "TrialDoc",
    "exit_code_of",
    "from_search",
    "headline",
]
