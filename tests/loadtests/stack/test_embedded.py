"""The scenario's stand_in section and how the embedded stack turns it into process settings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from loadtests.config.scenario import Scenario, load_scenario
from loadtests.stack.launchers.embedded import EmbeddedStack, agent_config, receiver_config
from loadtests.stack.otlp.config import OtlpFaults
from tests.loadtests.conftest import REPO


def _scenario(**stand_in: Any) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "t",
            "requests": [{"kind": "h", "weight": 1, "path": "/health"}],
            "stand_in": stand_in,
        }
    )


def test_stand_in_defaults_are_telemetry_off_no_redis_no_faults() -> None:
    stand_in = _scenario().stand_in
    assert (stand_in.telemetry, stand_in.redis) == (False, False)
    assert stand_in.otlp.model_dump() == {
        "refuse_fraction": 0.0,
        "refuse_status": 503,
        "retry_after_s": None,
        "latency_ms": 0.0,
        "stall_at_s": None,
        "stall_for_s": 0.0,
    }


def test_week1_baseline_exports_telemetry() -> None:
    assert load_scenario(REPO / "scenarios/week1-baseline.yaml").stand_in.telemetry is True


@pytest.mark.parametrize(
    "otlp",
    [
        {"refuse_fraction": 1.5},
        {"refuse_status": 500},
        {"latency_ms": -1},
        {"stall_for_s": "5s"},  # a stall needs its start
        {"stall_at": 3},  # extra keys are refused
    ],
)
def test_bad_otlp_faults_are_refused(otlp: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _scenario(otlp=otlp)


def test_scenario_settings_reach_the_agent_and_the_receiver() -> None:
    scenario = _scenario(
        telemetry=True,
        cache=False,
        otlp={
            "refuse_fraction": 0.1,
            "refuse_status": 429,
            "stall_at_s": "1m",
            "stall_for_s": "5s",
        },
    )
    config = agent_config(scenario, otlp_endpoint="http://127.0.0.1:4318", redis_url="redis://h:1")
    assert (config.telemetry, config.otlp_endpoint, config.redis_url) == (
        True,
        "http://127.0.0.1:4318",
        "redis://h:1",
    )
    assert config.cache is False
    assert agent_config(scenario).telemetry is False  # no receiver, nothing to export to
    receiver = receiver_config(scenario)
    assert receiver.faults == OtlpFaults(
        refuse_fraction=0.1, refuse_status=429, stall_at_s=60.0, stall_for_s=5.0
    )
    assert receiver.seed == scenario.load.seed


def test_stream_capacity_leak_and_telemetry_cost_reach_the_agent() -> None:
    scenario = _scenario(
        telemetry=True,
        telemetry_export=False,
        stream={"tokens_per_s": 20, "first_token_ms": 100},
        capacity_rps=50,
        leak_bytes_per_request=10_000,
        telemetry_cost={"latency_ms": 3, "cpu_us": 50, "memory_bytes": 1000},
    )
    config = agent_config(scenario)  # no receiver: telemetry stays on, as nothing is exported
    assert (config.telemetry, config.telemetry_export) == (True, False)
    assert (config.stream_tokens_per_s, config.stream_first_token_ms) == (20.0, 100.0)
    assert (config.capacity_rps, config.leak_bytes_per_request) == (50.0, 10_000)
    assert (
        config.telemetry_cost_latency_ms,
        config.telemetry_cost_cpu_us,
        config.telemetry_cost_memory_bytes,
    ) == (3.0, 50.0, 1000)
    defaults = agent_config(_scenario())
    assert (defaults.stream_tokens_per_s, defaults.stream_first_token_ms) == (50.0, None)
    assert (defaults.capacity_rps, defaults.leak_bytes_per_request) == (None, 0)
    assert defaults.telemetry_export is True


@pytest.mark.parametrize(
    "stand_in",
    [
        {"stream": {"tokens_per_s": 0}},
        {"stream": {"first_token_ms": -1}},
        {"stream": {"rate": 5}},
        {"capacity_rps": 0},
        {"leak_bytes_per_request": -1},
        {"telemetry_cost": {"latency_ms": -1}},
        {"telemetry_cost": {"cpu": 5}},
    ],
)
def test_bad_stand_in_costs_are_refused(stand_in: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _scenario(**stand_in)


def test_embedded_stack_lists_only_the_urls_it_has() -> None:
    stack = EmbeddedStack("http://a", None, {"agent": 1}, otlp_url="http://o")
    assert stack.urls() == {"agent": "http://a", "otlp_receiver": "http://o"}
