"""A capacity search's settings: refused in one sentence before any load; probe scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.config.capacity import (
    CapacityOptions,
    capacity_targets,
    probe_scenario,
    search_settings,
)
from loadtests.config.scenario import load_scenario
from loadtests.errors import EXIT_CANNOT_JUDGE, ScenarioError

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
CAPACITY = load_scenario(SCENARIOS / "capacity.yaml")


def _options(scenario, **kwargs) -> CapacityOptions:
    return CapacityOptions(scenario, Path("unused"), search_settings(scenario), **kwargs)


def test_the_settings_default_to_the_scenario_rate_and_a_range_around_it():
    settings = search_settings(CAPACITY, time_budget="4m")
    assert (settings.start_rps, settings.min_rps, settings.max_rps) == (250, 250 / 64, 250 * 64)
    assert settings.time_budget_s == 240.0
    assert settings.probe_estimate_s == 2 + 10 + 10  # ramp + duration + start-up slack


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"time_budget": "soon"}, "--time-budget: cannot read duration 'soon'"),
        ({"min_rps": 500.0}, "0 < min (500) <= start (250)"),
        ({"precision": 2.0}, "precision must be between 0 and 1"),
    ],
)
def test_bad_settings_are_refused_in_one_sentence(kwargs, words):
    with pytest.raises(ScenarioError) as caught:
        search_settings(CAPACITY, **kwargs)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.exit_code == EXIT_CANNOT_JUDGE


def test_a_staged_scenario_or_one_without_a_rate_judged_target_is_refused():
    with pytest.raises(ScenarioError, match="field 'load.stages': a capacity search runs"):
        capacity_targets(_options(load_scenario(SCENARIOS / "stress.yaml").model_copy(
            update={"targets": {"latency_p95_ms": "< 50"}})))  # fmt: skip
    only_shape = CAPACITY.model_copy(update={"targets": {"knee_rps": ">= 100"}})
    with pytest.raises(ScenarioError, match="field 'targets': no target a capacity search"):
        capacity_targets(_options(only_shape))
    targets, left_out = capacity_targets(_options(only_shape, goodput_floor_percent=99.0))
    assert targets == {"goodput_percent": ">= 99"} and "knee_rps" in left_out[0]


def test_a_probe_runs_the_scenario_at_its_rate_with_the_rate_range_scaled():
    probe = probe_scenario(CAPACITY, 400.0, dict(CAPACITY.targets))
    assert probe.load.rate_rps == 400.0 and probe.name == "capacity-400rps"
    assert probe.targets["request_rate_rps"] == "320..480"  # 200..300 written for 250 req/s
    assert probe.targets["latency_p95_ms"] == "< 50"
    assert probe.stand_in.capacity_rps == 400
