"""Stand-in agents shared by the live tests: one caching, one with the cache off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.launchers.launch import AgentProcess, start_agent

UPSTREAM_MS = 20.0


@pytest.fixture(scope="session")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """A caching stand-in whose upstream always takes 20 ms."""
    config = AgentConfig(upstream_distribution="constant", upstream_median_ms=UPSTREAM_MS)
    with start_agent(config, tmp_path_factory.mktemp("agent")) as process:
        yield process


@pytest.fixture(scope="session")
def bypass_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """A stand-in with the cache off and the same 20 ms upstream."""
    config = AgentConfig(
        upstream_distribution="constant", upstream_median_ms=UPSTREAM_MS, cache=False
    )
    with start_agent(config, tmp_path_factory.mktemp("bypass-agent")) as process:
        yield process
