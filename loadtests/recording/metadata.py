"""Creating a run directory and keeping its metadata.json true as the run goes on."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from analysis.contract.atomic import write_text_atomic
from analysis.contract.schema import METADATA_FILE, SCENARIO_FILE
from loadtests.config.replay import timeline_for
from loadtests.config.scenario import Scenario
from loadtests.errors import HarnessError, OutputError


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def create_experiment(out_root: Path, name: str, what: str) -> Path:
    """Make ``out_root/<UTC stamp>-<name>``, the folder of an experiment's runs (``what``)."""
    path = out_root / f"{_stamp()}-{name}"
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise HarnessError(f"cannot create the {what} folder {path}: {exc}") from None
    return path


def create(out_root: Path, scenario_name: str) -> Path:
    """Make ``out_root/<UTC stamp>-<scenario>``; fail before any load if it cannot be written."""
    stamp = _stamp()
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        run_dir = out_root / f"{stamp}-{scenario_name}"
        suffix = 1
        while run_dir.exists():
            suffix += 1
            run_dir = out_root / f"{stamp}-{scenario_name}-{suffix}"
        run_dir.mkdir()
        probe = run_dir / ".write-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise OutputError(
            f"cannot write the output folder {out_root}: {exc.strerror or exc}; "
            "choose another with --out (make load REPORTS_DIR=...); no load was sent"
        ) from None
    return run_dir


def write_scenario(run_dir: Path, scenario: Scenario) -> None:
    write_text_atomic(run_dir / SCENARIO_FILE, scenario.to_yaml())


@cache  # metadata.json is rewritten as the run goes on: ask git (a subprocess) once
def _git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@cache
def _harness_version() -> str:
    try:
        return version("edgeperf")
    except PackageNotFoundError:
        return "unknown"


def _merged_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Per-second counts of several generators added up, in second order."""
    total: dict[str, int] = {}
    for one in counts:
        for second, n in one.items():
            total[second] = total.get(second, 0) + int(n)
    return dict(sorted(total.items(), key=lambda item: int(item[0])))


@dataclass
class Metadata:
    """metadata.json of one run; ``write()`` rewrites it atomically at each step."""

    path: Path
    scenario: str
    started_utc: str = field(default_factory=_utc_now)
    ended_utc: str | None = None
    target: str | None = None
    prometheus_url: str | None = None
    embedded: bool = False
    outcome: str = "running"
    load: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)
    placement: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, run_dir: Path, scenario: Scenario) -> Metadata:
        meta = cls(path=run_dir / METADATA_FILE, scenario=scenario.name)
        meta.write()
        return meta

    def record_load(self, result: Any, scenario: Scenario, rows: int) -> None:
        """Fill ``load`` (windows, stages) and ``generator`` from a finished drive."""
        start_us = result.start_epoch_us
        stages, cursor = [], start_us
        judge = [None, None]
        for stage in scenario.load.resolved_stages():
            end = cursor + int(round(stage.duration * 1e6))
            first = stage.rate_rps if stage.start_rps is None else stage.start_rps
            stages.append(
                {"start_us": cursor, "end_us": end, "start_rps": first,
                 "end_rps": stage.rate_rps, "judge": stage.judge}
            )  # fmt: skip
            if stage.judge:
                judge[0] = cursor if judge[0] is None else judge[0]
                judge[1] = end
            cursor = end
        judged = [s for s in stages if s["judge"]]
        self.load = {
            "start_us": start_us,
            "end_us": cursor,
            "judge_start_us": judge[0] if judge[0] is not None else start_us,
            "judge_end_us": judge[1] if judge[1] is not None else cursor,
            "rate_rps": max((s["end_rps"] for s in judged), default=scenario.load.rate_rps),
            "arrival": scenario.load.arrival,
            "workers": max(1, len(result.generators)),
            "stages": stages,
            "rows": rows,
        }
        if scenario.load.trace is not None:  # what replay fidelity is measured against
            self.load["trace"] = timeline_for(scenario.load.trace).summary()
        gens = result.generators
        self.generator = {
            "cpu_s": sum(g.get("cpu_s", 0.0) for g in gens),
            "wall_s": max((g.get("wall_s", 0.0) for g in gens), default=0.0),
            "max_concurrency": scenario.load.max_concurrency,
            "cap_waits": sum(g.get("cap_waits", 0) for g in gens),
            "max_in_flight": sum(g.get("max_in_flight", 0) for g in gens),
            "not_sent": sum(g.get("not_sent", 0) for g in gens),
            "not_sent_by_s": _merged_counts(g.get("not_sent_by_s") or {} for g in gens),
            "workers": [{k: v for k, v in g.items() if k != "not_sent_by_s"} for g in gens],
        }
        if getattr(result, "master", None):
            self.generator["master"] = result.master
            self.generator["clocks"] = list(result.clocks)
            self.generator["lost_workers"] = list(result.lost_workers)
        self.notes.extend(result.notes)
        for g in gens:
            self.notes.extend(f"worker {g.get('worker', 0)}: {n}" for n in g.get("notes", []))
        if result.interrupted:
            self.outcome = "interrupted"
            self.notes.append("the run was interrupted; what was measured until then is kept")
        elif getattr(result, "watchdog", False):
            self.outcome = "watchdog"
        elif getattr(result, "lost_workers", None):
            self.outcome = "worker_lost"

    def finish(self) -> None:
        if self.outcome == "running":
            self.outcome = "completed"
        self.ended_utc = _utc_now()
        self.write()

    def as_dict(self) -> dict[str, Any]:
        return {
            "harness_version": _harness_version(),
            "git_sha": _git_sha(),
            "host": platform.node(),
            "scenario": self.scenario,
            "target": self.target,
            "embedded": self.embedded,
            "prometheus_url": self.prometheus_url,
            "started_utc": self.started_utc,
            "ended_utc": self.ended_utc,
            "outcome": self.outcome,
            "load": self.load,
            "generator": self.generator,
            "placement": self.placement,
            "notes": self.notes,
        }

    def write(self) -> None:
        write_text_atomic(self.path, json.dumps(self.as_dict(), indent=2))


__all__ = ["Metadata", "create", "create_experiment", "write_scenario"]
