"""Settings declared once: flags, help, checks and round trips derived from the declarations."""

from __future__ import annotations

import dataclasses

import pytest

from loadtests.errors import StackError
from loadtests.stack.agent.config import AgentConfig, build_parser, parse_agent_args
from loadtests.stack.otlp.config import OtlpFaults, ReceiverConfig, parse_receiver_args

# A value other than the default for every field of AgentConfig.
AGENT_CHANGES = {
    "host": "127.0.0.2",
    "port": 8081,
    "metrics_port": 9091,
    "direct_port": 9092,
    "upstream_distribution": "uniform",
    "upstream_median_ms": 7.5,
    "upstream_sigma": 0.9,
    "cache": False,
    "cache_max_entries": 12,
    "completion_tokens": 5,
    "honour_max_tokens": True,
    "seed": 42,
    "telemetry": True,
    "otlp_endpoint": "http://127.0.0.1:4318",
    "redis_url": "redis://127.0.0.1:6379",
    "stream_tokens_per_s": 25.0,
    "stream_first_token_ms": 15.0,
    "capacity_rps": 300.0,
    "leak_bytes_per_request": 200,
    "telemetry_export": False,
    "telemetry_cost_latency_ms": 2.5,
    "telemetry_cost_cpu_us": 100.0,
    "telemetry_cost_memory_bytes": 1024,
    "gateway_cost_ms": 5.0,
    "http_server": "uvicorn",
}


def test_every_agent_setting_has_a_flag_with_help():
    names = {f.name for f in dataclasses.fields(AgentConfig)}
    assert names == set(AGENT_CHANGES)  # a new setting needs a test value here
    parser = build_parser()
    flags = {a.dest: a for a in parser._actions}
    for name in names:
        assert name in flags, name
        assert flags[name].help, name


def test_each_changed_agent_setting_round_trips_through_the_command_line():
    default = AgentConfig()
    for name, value in AGENT_CHANGES.items():
        assert getattr(default, name) != value, name
    everything = AgentConfig(**AGENT_CHANGES)
    parsed, _ = parse_agent_args(everything.to_args())
    assert parsed == everything
    for name, value in AGENT_CHANGES.items():
        extra = {"otlp_endpoint": "http://127.0.0.1:4318"} if name == "telemetry" else {}
        one = AgentConfig(**{name: value, **extra})
        assert parse_agent_args(one.to_args())[0] == one, name


def test_checks_name_the_setting_and_the_value():
    with pytest.raises(StackError) as error:
        AgentConfig(port=70000, upstream_sigma=-1.0, redis_url="http://x")
    message = str(error.value)
    assert "port must be in 0..65535, got 70000" in message
    assert "upstream_sigma must be >= 0, got -1.0" in message
    assert "redis_url must be a base URL like redis://127.0.0.1:6379" in message


def test_a_bad_flag_exits_2_naming_the_setting(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_agent_args(["--capacity-rps", "0"])
    assert exit_info.value.code == 2
    assert "capacity_rps must be > 0" in capsys.readouterr().err


def test_receiver_settings_and_nested_faults_round_trip():
    faults = OtlpFaults(
        refuse_fraction=0.25, refuse_status=429, latency_ms=5.0, stall_at_s=3.0, stall_for_s=2.0
    )
    config = ReceiverConfig(
        host="127.0.0.3", port=4318, metrics_port=8888, faults=faults, seed=7, keep_spans=10
    )
    assert parse_receiver_args(config.to_args())[0] == config
    with pytest.raises(StackError, match="refuse_status must be 503 or 429, got 404"):
        OtlpFaults(refuse_status=404)
