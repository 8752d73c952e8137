"""Metric profiles: which PromQL measures each server-side metric on a given stack.

A profile is a YAML file in scenarios/profiles/ (see embedded.yaml for the format), installed as
package data (loadtests/config/shipped.py). A scenario picks one with ``metrics.profile`` and may
replace single queries with ``metrics.queries``; when it names none, the run takes "embedded" for
the embedded stand-in stack (no ``target.host``) and "edge-agent-compose" for any other target.
That default is resolved when the run starts, by ``resolve_profile``, and written back into the
run's scenario.yaml.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from analysis.contract.schema import SERIES_METRIC_UNITS
from loadtests.config.scenario import Scenario, Seconds
from loadtests.config.shipped import shipped_profiles_dir
from loadtests.errors import ScenarioError

EMBEDDED_PROFILE = "embedded"
COMPOSE_PROFILE = "edge-agent-compose"
# Replaced by the whole collection window (e.g. "74s") in a counter query.
WINDOW = "$window"
# Judged as a maximum or mean over the steady window, so they need a series.
GAUGE_ONLY = frozenset({"memory_bytes", "cpu_percent"})
_UNIT_ALIASES = {"percent": "%", "byte": "bytes", "bytes_per_s": "bytes/s", "rps": "req/s"}
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")

Kind = Literal["gauge", "counter"]


def _canonical_unit(value: str) -> str:
    return _UNIT_ALIASES.get(value, value)


class MetricQuery(BaseModel):
    """One profile entry: its kind, the unit the PromQL returns, the PromQL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    unit: str
    query: str = Field(min_length=1)
    help: str = ""

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        return _canonical_unit(value.strip())

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        return " ".join(value.split())


class ProfileFile(BaseModel):
    """A profile file as written: name, scrape interval, settle time and one entry a metric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME_RE.pattern)
    description: str = ""
    scrape_interval: Seconds = Field(gt=0, le=600)
    settle: Seconds = Field(default=2.0, ge=0, le=600)
    metrics: dict[str, MetricQuery] = Field(min_length=1)


@dataclass(frozen=True)
class ProfileQuery:
    """A metric's PromQL as the run uses it; ``overridden`` when the scenario replaced it."""

    metric: str
    kind: Kind
    unit: str
    promql: str
    overridden: bool = False

    def rendered(self, window_s: float) -> str:
        """The PromQL with ``$window`` as the window in whole seconds (at least 1 s)."""
        return self.promql.replace(WINDOW, f"{max(1, math.ceil(window_s))}s")


@dataclass(frozen=True)
class Profile:
    """A resolved profile: its name and file, the scrape step, the settle time, the queries."""

    name: str
    path: Path
    scrape_interval_s: float
    settle_s: float
    queries: dict[str, ProfileQuery]

    def gauges(self) -> dict[str, ProfileQuery]:
        return {m: q for m, q in self.queries.items() if q.kind == "gauge"}

    def counters(self) -> dict[str, ProfileQuery]:
        return {m: q for m, q in self.queries.items() if q.kind == "counter"}


def entry_problems(metric: str, kind: str, unit: str | None, promql: str) -> list[str]:
    """What is wrong with one metric's entry (empty when nothing): name, unit, kind vs $window."""
    expected = SERIES_METRIC_UNITS.get(metric)
    if expected is None:
        return [f"unknown metric {metric!r}; known: {list(SERIES_METRIC_UNITS)}"]
    problems = []
    if unit is not None and unit != expected:
        problems.append(f"unit must be {expected!r} for {metric}, got {unit!r}")
    if kind == "counter" and WINDOW not in promql:
        problems.append(
            f"a counter query must use {WINDOW} as its range, e.g. increase(x[{WINDOW}])"
        )
    if kind == "gauge" and WINDOW in promql:
        problems.append(f"{WINDOW} is only for counter queries; use kind: counter or a fixed range")
    if kind == "counter" and metric in GAUGE_ONLY:
        problems.append(f"{metric} is judged over the steady window, so it must be a gauge")
    return problems


def profile_path(name_or_path: str, profiles_dir: Path | None = None) -> Path:
    """A profile name's file in ``profiles_dir`` (default: the shipped profiles), or the path
    itself when it looks like one."""
    if _NAME_RE.match(name_or_path) and not name_or_path.endswith((".yaml", ".yml")):
        return (profiles_dir or shipped_profiles_dir()) / f"{name_or_path}.yaml"
    return Path(name_or_path)


def load_profile_file(path: Path) -> ProfileFile:
    """Read and validate a profile file; raise ScenarioError naming file, field and problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = sorted(p.stem for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        raise ScenarioError(f"{path}: metric profile not found (known profiles: {known})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read metric profile: {exc}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping at the top level")
    try:
        profile = ProfileFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{path}: field '{'.'.join(str(p) for p in e['loc']) or '(top level)'}': {e['msg']}"
            for e in exc.errors()
        ]
        raise ScenarioError("\n".join(problems)) from None
    problems = [
        f"{path}: field 'metrics.{metric}': {problem}"
        for metric, entry in profile.metrics.items()
        for problem in entry_problems(metric, entry.kind, entry.unit, entry.query)
    ]
    if problems:
        raise ScenarioError("\n".join(problems))
    return profile


def default_profile_name(scenario: Scenario) -> str:
    """The scenario's profile, else "embedded" when the embedded stack runs (no target.host)."""
    if scenario.metrics.profile:
        return scenario.metrics.profile
    return EMBEDDED_PROFILE if scenario.target.host is None else COMPOSE_PROFILE


def resolve_profile(scenario: Scenario, profiles_dir: Path | None = None) -> Profile:
    """The scenario's profile with its overrides applied; raise ScenarioError on a bad one.

    An override keeps the profile's kind for its metric; for a metric the profile lacks, a query
    using ``$window`` is a counter and any other a gauge.
    """
    path = profile_path(default_profile_name(scenario), profiles_dir)
    written = load_profile_file(path)
    queries = {
        metric: ProfileQuery(metric, entry.kind, entry.unit, entry.query)
        for metric, entry in written.metrics.items()
    }
    problems = []
    for metric, text in scenario.metrics.queries.items():
        promql = " ".join(text.split())
        base = queries.get(metric)
        kind: Kind = base.kind if base else ("counter" if WINDOW in promql else "gauge")
        problems += [
            f"field 'metrics.queries.{metric}': {problem}"
            for problem in entry_problems(metric, kind, None, promql)
        ]
        queries[metric] = ProfileQuery(metric, kind, SERIES_METRIC_UNITS[metric], promql, True)
    if problems:
        raise ScenarioError("\n".join(f"scenario {scenario.name}: {p}" for p in problems))
    return Profile(written.name, path, written.scrape_interval, written.settle, queries)


def with_profile_name(scenario: Scenario, name: str) -> Scenario:
    """The scenario with ``metrics.profile`` set, so scenario.yaml records what the run used."""
    metrics = scenario.metrics.model_copy(update={"profile": name})
    return scenario.model_copy(update={"metrics": metrics})


__all__ = [
    "COMPOSE_PROFILE",
    "EMBEDDED_PROFILE",
    "WINDOW",
    "Profile",
    "ProfileQuery",
    "default_profile_name",
    "entry_problems",
    "load_profile_file",
    "profile_path",
    "resolve_profile",
    "with_profile_name",
]
