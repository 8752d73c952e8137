"""The embedded stand-in stack as one unit: OTLP receiver, (Redis), agent and Prometheus."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.config.scenario import Scenario
from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.launchers.launch import (
    start_agent,
    start_otlp_receiver,
    start_prometheus,
    start_redis,
)
from loadtests.stack.otlp.config import OtlpFaults, ReceiverConfig

AGENT_JOB = "edge-agent"
OTLP_JOB = "otlp-collector"
# Logs copied into the run directory; Prometheus's own log stays behind (warnings only).
COPIED_LOGS = ("agent.log", "otlp-receiver.log", "redis.log")


@dataclass(frozen=True)
class EmbeddedStack:
    """Where the running stack answers, and the pids of its processes by role.

    Roles in ``pids``: agent, otlp_receiver, redis (when used), prometheus (when started).
    ``agent_direct_url`` is the agent's direct listener: its simulated upstream, no gateway.
    """

    agent_url: str
    prometheus_url: str | None
    pids: dict[str, int] = field(default_factory=dict)
    agent_metrics_url: str | None = None
    otlp_url: str | None = None
    otlp_metrics_url: str | None = None
    redis_url: str | None = None
    agent_direct_url: str | None = None

    def urls(self) -> dict[str, str]:
        """Every URL of the stack by role, leaving out the parts not started."""
        urls = {
            "agent": self.agent_url,
            "agent_direct": self.agent_direct_url,
            "agent_metrics": self.agent_metrics_url,
            "otlp_receiver": self.otlp_url,
            "otlp_receiver_metrics": self.otlp_metrics_url,
            "redis": self.redis_url,
            "prometheus": self.prometheus_url,
        }
        return {role: url for role, url in urls.items() if url is not None}


def agent_config(
    scenario: Scenario, *, otlp_endpoint: str | None = None, redis_url: str | None = None
) -> AgentConfig:
    """The stand-in's settings from the scenario's ``stand_in`` section, on free loopback ports.

    Telemetry is on when the scenario asks for it and it can export to ``otlp_endpoint``, or
    when ``telemetry_export`` is off (then only its known cost applies).
    """
    stand_in = scenario.stand_in
    cost = stand_in.telemetry_cost
    exportable = otlp_endpoint is not None or not stand_in.telemetry_export
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
        honour_max_tokens=stand_in.honour_max_tokens,
        seed=scenario.load.seed,
        telemetry=stand_in.telemetry and exportable,
        otlp_endpoint=otlp_endpoint,
        redis_url=redis_url,
        stream_tokens_per_s=stand_in.stream.tokens_per_s,
        stream_first_token_ms=stand_in.stream.first_token_ms,
        capacity_rps=stand_in.capacity_rps,
        leak_bytes_per_request=stand_in.leak_bytes_per_request,
        gateway_cost_ms=stand_in.gateway_cost_ms,
        telemetry_export=stand_in.telemetry_export,
        telemetry_cost_latency_ms=cost.latency_ms,
        telemetry_cost_cpu_us=cost.cpu_us,
        telemetry_cost_memory_bytes=cost.memory_bytes,
    )


def receiver_config(scenario: Scenario) -> ReceiverConfig:
    """The OTLP receiver's settings from ``stand_in.otlp``, on free loopback ports."""
    otlp = scenario.stand_in.otlp
    faults = OtlpFaults(
        refuse_fraction=otlp.refuse_fraction,
        refuse_status=otlp.refuse_status,
        retry_after_s=otlp.retry_after_s,
        latency_ms=otlp.latency_ms,
        stall_at_s=otlp.stall_at_s,
        stall_for_s=otlp.stall_for_s,
    )
    return ReceiverConfig(host="127.0.0.1", faults=faults, seed=scenario.load.seed)


def launch_stack(
    scenario: Scenario,
    workdir: Path,
    stack: contextlib.ExitStack,
    *,
    with_prometheus: bool = True,
    meanwhile: Callable[[], object] | None = None,
) -> EmbeddedStack:
    """Start the stack with its files in ``workdir``; ``stack`` stops it, agent before receiver.

    The receiver always runs (so its counts read 0 with telemetry off); Redis only with
    ``stand_in.redis``; Prometheus scrapes the jobs "edge-agent" and "otlp-collector".
    ``meanwhile`` runs while Prometheus finds its targets (about 5 s), or last without it.
    """
    receiver = stack.enter_context(start_otlp_receiver(receiver_config(scenario), workdir))
    pids = {"otlp_receiver": receiver.pid}
    redis_url = None
    if scenario.stand_in.redis:
        redis = stack.enter_context(start_redis(workdir))
        redis_url, pids["redis"] = redis.url, redis.pid
    # Entered after the receiver, so it stops (and flushes its telemetry) before the receiver.
    config = agent_config(scenario, otlp_endpoint=receiver.url, redis_url=redis_url)
    agent = stack.enter_context(start_agent(config, workdir))
    pids["agent"] = agent.pid
    prom_url = None
    if with_prometheus:
        jobs = {
            AGENT_JOB: f"127.0.0.1:{agent.metrics_port}",
            OTLP_JOB: f"127.0.0.1:{receiver.metrics_port}",
        }
        prom = stack.enter_context(start_prometheus(jobs, workdir, meanwhile=meanwhile))
        prom_url, pids["prometheus"] = prom.url, prom.pid
    elif meanwhile is not None:
        meanwhile()
    return EmbeddedStack(
        agent_url=agent.url,
        prometheus_url=prom_url,
        pids=pids,
        agent_metrics_url=agent.metrics_url,
        otlp_url=receiver.url,
        otlp_metrics_url=receiver.metrics_url,
        redis_url=redis_url,
        agent_direct_url=agent.direct_url,
    )


def _copy_logs(workdir: Path, logs_dir: Path) -> None:
    for name in COPIED_LOGS:
        if (workdir / name).exists():
            shutil.copy(workdir / name, logs_dir / name)


def start_embedded_stack(
    scenario: Scenario,
    stack: contextlib.ExitStack,
    logs_dir: Path,
    *,
    with_prometheus: bool = True,
    meanwhile: Callable[[], object] | None = None,
) -> EmbeddedStack:
    """Start the stack; its processes stop, and their logs go to ``logs_dir``, with ``stack``
    (``meanwhile``: see ``launch_stack``)."""
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edgeperf-")))
    # Registered before the processes start, so it runs after they have all stopped.
    stack.callback(_copy_logs, work, logs_dir)
    return launch_stack(scenario, work, stack, with_prometheus=with_prometheus, meanwhile=meanwhile)


__all__ = [
    "AGENT_JOB",
    "OTLP_JOB",
    "EmbeddedStack",
    "agent_config",
    "launch_stack",
    "receiver_config",
    "start_embedded_stack",
]
