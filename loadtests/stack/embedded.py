"""The embedded stand-in stack as one unit: the Edge-Agent stand-in and a Prometheus scraping it."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.scenario import Scenario
from loadtests.stack.config import AgentConfig
from loadtests.stack.launch import start_agent, start_prometheus

AGENT_JOB = "edge-agent"


@dataclass(frozen=True)
class EmbeddedStack:
    """Where the running stack answers, and the pids of its processes by role."""

    agent_url: str
    prometheus_url: str | None
    pids: dict[str, int] = field(default_factory=dict)


def agent_config(scenario: Scenario) -> AgentConfig:
    """The stand-in's settings from the scenario's ``stand_in`` section, on free loopback ports."""
    stand_in = scenario.stand_in
    return AgentConfig(
        host="127.0.0.1",
        port=0,
        metrics_port=0,
        upstream_distribution=stand_in.upstream.distribution,
        upstream_median_ms=stand_in.upstream.median_ms,
        upstream_sigma=stand_in.upstream.sigma,
        cache=stand_in.cache,
        cache_max_entries=stand_in.cache_max_entries,
        completion_tokens=stand_in.completion_tokens,
        seed=scenario.load.seed,
    )


def start_embedded_stack(
    scenario: Scenario,
    stack: contextlib.ExitStack,
    logs_dir: Path,
    *,
    with_prometheus: bool = True,
) -> EmbeddedStack:
    """Start the stack; its processes stop, and their logs go to ``logs_dir``, with ``stack``."""
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edgeperf-")))
    agent = stack.enter_context(start_agent(agent_config(scenario), work))
    stack.callback(shutil.copy, work / "agent.log", logs_dir / "agent.log")
    pids = {"agent": agent.pid}
    prom_url = None
    if with_prometheus:
        prom = stack.enter_context(
            start_prometheus({AGENT_JOB: f"127.0.0.1:{agent.metrics_port}"}, work)
        )
        prom_url = prom.url
        pids["prometheus"] = prom.pid
    return EmbeddedStack(agent_url=agent.url, prometheus_url=prom_url, pids=pids)


__all__ = ["AGENT_JOB", "EmbeddedStack", "agent_config", "start_embedded_stack"]
