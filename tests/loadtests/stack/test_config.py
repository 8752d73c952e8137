"""AgentConfig validation and its round trip through the agent's command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.errors import StackError
from loadtests.stack.agent.config import AgentConfig, parse_agent_args
from loadtests.stack.agent.costs import TelemetryCost
from loadtests.stack.otlp.config import OtlpFaults, ReceiverConfig, parse_receiver_args


@pytest.mark.parametrize(
    "config",
    [
        AgentConfig(),
        AgentConfig(
            host="::1",
            port=8080,
            metrics_port=9100,
            upstream_distribution="exponential",
            upstream_median_ms=0.1 + 0.2,
            upstream_sigma=0.0,
            cache=False,
            cache_max_entries=7,
            completion_tokens=3,
            seed=-4,
            telemetry=True,
            otlp_endpoint="http://127.0.0.1:4318",
            redis_url="redis://127.0.0.1:6379/2",
            stream_tokens_per_s=12.5,
            stream_first_token_ms=0.0,
            capacity_rps=0.1 + 0.2,
            leak_bytes_per_request=10_000,
            telemetry_export=False,
            telemetry_cost_latency_ms=3.0,
            telemetry_cost_cpu_us=150.5,
            telemetry_cost_memory_bytes=2**20,
        ),
        AgentConfig(otlp_endpoint="http://[::1]:4318/"),
        AgentConfig(telemetry=True, telemetry_export=False, stream_first_token_ms=250.0),
    ],
)
def test_to_args_round_trips_through_the_agent_parser(config: AgentConfig) -> None:
    parsed, ready = parse_agent_args([*config.to_args(), "--ready-file", "r.json"])
    assert parsed == config
    assert ready == Path("r.json")


def test_no_cache_flag_only_when_the_cache_is_off() -> None:
    assert "--no-cache" not in AgentConfig().to_args()
    assert "--no-cache" in AgentConfig(cache=False).to_args()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("port", 70000),
        ("upstream_distribution", "pareto"),
        ("upstream_median_ms", -1.0),
        ("upstream_sigma", float("nan")),
        ("cache_max_entries", 0),
        ("completion_tokens", 0),
        ("otlp_endpoint", "127.0.0.1:4318"),
        ("otlp_endpoint", "http://127.0.0.1:4318/v1/traces"),
        ("redis_url", "http://127.0.0.1:6379"),
        ("stream_tokens_per_s", 0.0),
        ("stream_first_token_ms", -1.0),
        ("capacity_rps", float("inf")),
        ("leak_bytes_per_request", -1),
        ("telemetry_cost_latency_ms", float("nan")),
        ("telemetry_cost_cpu_us", -0.5),
        ("telemetry_cost_memory_bytes", -1),
    ],
)
def test_invalid_settings_raise_stack_error_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(StackError, match=field):
        AgentConfig(**{field: value})  # type: ignore[arg-type]


def test_bad_flags_exit_with_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_agent_args(["--cache-max-entries", "0"])
    assert exit_info.value.code == 2
    assert "cache_max_entries must be >= 1" in capsys.readouterr().err


def test_telemetry_needs_an_endpoint_and_is_off_by_default() -> None:
    assert AgentConfig().telemetry is False
    assert "--no-telemetry" in AgentConfig().to_args()
    with pytest.raises(StackError, match="telemetry needs otlp_endpoint"):
        AgentConfig(telemetry=True)


def test_telemetry_cost_is_charged_only_with_telemetry_on() -> None:
    costly = {
        "telemetry_export": False,
        "telemetry_cost_latency_ms": 3.0,
        "telemetry_cost_cpu_us": 10.0,
        "telemetry_cost_memory_bytes": 100,
    }
    assert AgentConfig(**costly).telemetry_cost() == TelemetryCost()  # type: ignore[arg-type]
    on = AgentConfig(telemetry=True, **costly)  # type: ignore[arg-type]
    assert on.telemetry_cost() == TelemetryCost(latency_ms=3.0, cpu_us=10.0, memory_bytes=100)


def test_receiver_config_round_trips_through_its_parser() -> None:
    config = ReceiverConfig(
        host="::1",
        port=4318,
        metrics_port=8888,
        faults=OtlpFaults(
            refuse_fraction=0.05, refuse_status=429, latency_ms=2.5, stall_at_s=10, stall_for_s=3
        ),
        seed=9,
        keep_spans=50,
    )
    parsed, ready = parse_receiver_args([*config.to_args(), "--ready-file", "r.json"])
    assert (parsed, ready) == (config, Path("r.json"))
    assert parse_receiver_args([])[0] == ReceiverConfig()
