"""A capacity search's settings: the search, the probe scenarios and the targets they are held to.

Apart from the experiment (``loadtests.experiments.capacity``) so that every setting is checked,
and a bad one refused in one sentence, before any load generator is imported or started.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from analysis.capacity.probe import probe_targets
from analysis.capacity.search import SearchSettings
from loadtests.config.scenario import Scenario, parse_duration_s
from loadtests.errors import ScenarioError

PROBE_SLACK_S = 10.0  # start-up, drain and analysis of a probe beyond its schedule


@dataclass(frozen=True)
class CapacityOptions:
    scenario: Scenario
    out_root: Path
    settings: SearchSettings
    required_rps: float | None = None  # exit 1 when the capacity is below it
    goodput_floor_percent: float | None = None  # a goodput_percent target added to the probes
    settle_s: float = 1.0  # pause between probes
    source: str = ""  # the scenario file, for messages


def search_settings(
    scenario: Scenario,
    *,
    start_rps: float | None = None,
    min_rps: float | None = None,
    max_rps: float | None = None,
    precision: float = 0.05,
    time_budget: str = "10m",
) -> SearchSettings:
    """The search's settings: the start defaults to load.rate_rps, the range to ×/÷ 64 of it."""
    try:
        budget_s = parse_duration_s(time_budget)
    except ValueError as exc:
        raise ScenarioError(f"--time-budget: {exc}") from None
    start = start_rps or scenario.load.rate_rps
    try:
        return SearchSettings(
            start_rps=start,
            min_rps=min_rps or min(start, start / 64),
            max_rps=max_rps or max(start, start * 64),
            precision=precision,
            time_budget_s=budget_s,
            probe_estimate_s=scenario.load.ramp + scenario.load.duration + PROBE_SLACK_S,
        )
    except ValueError as exc:
        raise ScenarioError(f"--start-rate, --min-rate, --max-rate, --precision: {exc}") from None


def probe_scenario(scenario: Scenario, rate_rps: float, targets: dict[str, str]) -> Scenario:
    """The scenario of one probe: its rate, its targets (a rate range scaled to the rate)."""
    data = scenario.model_dump(mode="json")
    data["name"] = f"{scenario.name}-{rate_rps:g}rps"[:60]
    data["load"]["rate_rps"] = rate_rps
    data["targets"] = targets
    data["overhead"] = None
    probe = Scenario.model_validate(data)
    return probe.rescaled_rate_target(scenario.load.rate_rps)


def capacity_targets(options: CapacityOptions) -> tuple[dict[str, str], list[str]]:
    """The targets each probe is judged on (with a goodput floor) and what was left out."""
    where = options.source or f"scenario {options.scenario.name}"
    if options.scenario.load.stages:
        raise ScenarioError(
            f"{where}: field 'load.stages': a capacity search runs each probe at one rate; "
            "remove the stages and set load.rate_rps, load.ramp and load.duration"
        )
    targets, left_out = probe_targets(dict(options.scenario.targets))
    if options.goodput_floor_percent is not None:
        targets["goodput_percent"] = f">= {options.goodput_floor_percent:g}"
    if not targets:
        raise ScenarioError(
            f"{where}: field 'targets': no target a capacity search can judge at a varying "
            "rate (latency, errors, goodput, ...); add one or give --goodput-floor"
        )
    return targets, left_out


__all__ = [
    "CapacityOptions",
    "capacity_targets",
    "probe_scenario",
    "search_settings",
]
