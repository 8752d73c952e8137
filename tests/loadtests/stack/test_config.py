"""AgentConfig validation and its round trip through the agent's command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.errors import StackError
from loadtests.stack.config import AgentConfig, parse_agent_args


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
        ),
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
