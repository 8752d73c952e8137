"""Shipped scenarios and profiles: found as package data, by name, from any directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.config.profiles import resolve_profile
from loadtests.config.scenario import load_scenario
from loadtests.config.shipped import (
    shipped_dir,
    shipped_profiles_dir,
    shipped_scenario,
    shipped_scenario_names,
)
from loadtests.errors import ScenarioError

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_files_are_the_scenarios_folder_and_every_one_loads():
    assert sorted(p.stem for p in (REPO / "scenarios").glob("*.yaml")) == shipped_scenario_names()
    assert {"health", "week1-baseline"} <= set(shipped_scenario_names())
    assert (shipped_profiles_dir() / "embedded.yaml").is_file()
    for name in shipped_scenario_names():
        assert load_scenario(name).name
        assert resolve_profile(load_scenario(name)).path.parent == shipped_profiles_dir()


@pytest.mark.parametrize("typed", ["health", "health.yaml", "scenarios/health.yaml"])
def test_a_missing_path_that_names_a_shipped_scenario_reads_it(tmp_path, monkeypatch, typed):
    monkeypatch.chdir(tmp_path)
    assert shipped_scenario(Path(typed)) == shipped_dir() / "health.yaml"
    assert load_scenario(typed).name == "health"


@pytest.mark.parametrize("typed", ["/nowhere/health.yaml", "other/health.yaml", "health.json"])
def test_a_path_elsewhere_or_of_another_kind_names_no_shipped_scenario(typed):
    assert shipped_scenario(Path(typed)) is None


def test_a_file_that_exists_wins_over_the_shipped_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "health.yaml").write_text(
        "name: mine\nrequests: [{kind: health, weight: 1, path: /health}]\n"
    )
    assert load_scenario("health.yaml").name == "mine"
    assert load_scenario("health").name == "health"  # no file "health": the shipped one


def test_a_missing_scenario_names_the_path_and_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as caught:
        load_scenario("helth")
    message = str(caught.value)
    assert message.startswith("helth: scenario file not found;")
    assert "\n" not in message
    assert all(name in message for name in shipped_scenario_names())
