"""Scenario fields of stage-based scenarios: stage_targets and the load-shape verdict metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from loadtests.config.scenario import load_scenario
from loadtests.errors import ScenarioError

REPO = Path(__file__).resolve().parents[2]
BASE = {"name": "s", "requests": [{"kind": "health", "weight": 1, "path": "/health"}]}


def _load(tmp_path, **fields):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**BASE, **fields}))
    return load_scenario(path)


def test_stage_targets_and_shape_metrics_are_accepted(tmp_path):
    scenario = _load(
        tmp_path,
        stage_targets={"latency_p99_ms": "< 200", "error_rate": "< 1"},
        targets={"spike_recovery_s": "< 10", "knee_rps": ">= 1000",
                 "memory_growth_mb_per_h": "< 50"},
    )  # fmt: skip
    assert scenario.stage_targets == {"latency_p99_ms": "< 200", "error_rate": "< 1"}
    assert scenario.targets["knee_rps"] == ">= 1000"
    assert "stage_targets" in yaml.safe_load(scenario.to_yaml())


@pytest.mark.parametrize(
    ("stage_targets", "message"),
    [({"memory_bytes": "< 2GB"}, "unknown metric"), ({"latency_p99_ms": "fast"}, "cannot read")],
)
def test_bad_stage_targets_name_the_field(tmp_path, stage_targets, message):
    with pytest.raises(ScenarioError, match=message) as info:
        _load(tmp_path, stage_targets=stage_targets)
    assert "stage_targets" in str(info.value)


def test_shipped_shape_scenarios_load_and_soak_takes_a_duration_override():
    spike = load_scenario(REPO / "scenarios/spike.yaml")
    assert [s.rate_rps for s in spike.load.resolved_stages()] == [1000, 3000, 1000]
    stress = load_scenario(REPO / "scenarios/stress.yaml")
    rates = [s.rate_rps for s in stress.load.resolved_stages()]
    assert rates == sorted(rates) and rates[0] == 250 and len(rates) >= 6
    soak = load_scenario(REPO / "scenarios/soak.yaml", {"load.duration": "5m"})
    assert sum(s.duration for s in soak.load.resolved_stages()) == 330.0
    assert "memory_growth_mb_per_h" in soak.targets
