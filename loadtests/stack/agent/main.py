"""Stand-in of the LLM Edge-Agent: ``python -m loadtests.stack.agent --port 0 --ready-file F``."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from loadtests.errors import StackError
from loadtests.stack.agent.app import EdgeAgentApp, MetricsApp
from loadtests.stack.agent.config import AgentConfig, parse_agent_args
from loadtests.stack.agent.costs import KnownCosts
from loadtests.stack.agent.direct import DirectApp
from loadtests.stack.agent.l2cache import L2Cache, RedisL2
from loadtests.stack.agent.metrics import AgentMetrics
from loadtests.stack.agent.telemetry import NO_TELEMETRY, RequestTelemetry, start_telemetry
from loadtests.stack.agent.upstream import ResponseCache, SimulatedUpstream, latency_sampler
from loadtests.stack.http.asgi import UvicornServer, listen_asgi
from loadtests.stack.http.server import ServerHandle
from loadtests.stack.http.serving import http_url, listen, run_loop, write_ready_file

__all__ = [
    "AgentConfig",
    "build_app",
    "build_direct_app",
    "http_url",
    "main",
    "serve",
    "write_ready_file",
]


def build_app(
    config: AgentConfig,
    metrics: AgentMetrics,
    *,
    l2: L2Cache | None = None,
    telemetry: RequestTelemetry = NO_TELEMETRY,
) -> EdgeAgentApp:
    """The API app for ``config``, reporting to ``metrics`` and ``telemetry``.

    The telemetry cost's memory is allocated here and held by the app for its lifetime.
    """
    costs = KnownCosts(
        capacity_rps=config.capacity_rps,
        leak_bytes_per_request=config.leak_bytes_per_request,
        telemetry=config.telemetry_cost(),
        gateway_latency_ms=config.gateway_cost_ms,
    )
    return EdgeAgentApp(
        metrics=metrics,
        cache=ResponseCache(config.cache_max_entries) if config.cache else None,
        upstream=_upstream(config),
        l2=l2,
        telemetry=telemetry,
        costs=costs,
    )


def _upstream(config: AgentConfig) -> SimulatedUpstream:
    """The simulated provider of ``config``; its latency draws start from the config's seed, so
    the gateway's and the direct listener's (each its own) draw alike."""
    return SimulatedUpstream(
        latency_ms=latency_sampler(
            config.upstream_distribution,
            config.upstream_median_ms,
            config.upstream_sigma,
            random.Random(config.seed),
        ),
        completion_tokens=config.completion_tokens,
        tokens_per_s=config.stream_tokens_per_s,
        first_token_ms=config.stream_first_token_ms,
        honour_max_tokens=config.honour_max_tokens,
    )


def build_direct_app(config: AgentConfig) -> DirectApp:
    """The direct listener's app: the simulated upstream of ``config`` with no gateway."""
    return DirectApp(_upstream(config))


async def serve(
    config: AgentConfig, ready_file: Path | None, stop: asyncio.Event | None = None
) -> None:
    """Serve the API and the metrics until ``stop`` is set (or SIGTERM/SIGINT arrive).

    On the way out the telemetry is flushed, so a clean stop loses no spans, points or logs.
    """
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    metrics = AgentMetrics(CollectorRegistry(auto_describe=True))
    l2 = await RedisL2.connect(config.redis_url) if config.redis_url and config.cache else None
    # With export off, telemetry "on" means its known cost only: the SDK never starts.
    exporting = config.telemetry and config.telemetry_export
    telemetry = start_telemetry(config.otlp_endpoint if exporting else None, counts=metrics)
    servers: list[ServerHandle | UvicornServer] = []
    try:
        app = build_app(config, metrics, l2=l2, telemetry=telemetry)
        metrics_app = MetricsApp(metrics, CONTENT_TYPE_LATEST)
        api: ServerHandle | UvicornServer
        metrics_server: ServerHandle | UvicornServer
        if config.http_server == "uvicorn":
            api = await listen_asgi(app, config.host, config.port, "the API")
            servers.append(api)
            metrics_server = await listen_asgi(
                metrics_app,
                config.host,
                config.metrics_port,
                "metrics",
                metrics_registry=metrics.registry,
            )
        else:
            api = await listen(app, config.host, config.port, "the API")
            servers.append(api)
            metrics_server = await listen(metrics_app, config.host, config.metrics_port, "metrics")
        servers.append(metrics_server)
        direct_app = build_direct_app(config)
        direct: ServerHandle | UvicornServer
        if config.http_server == "uvicorn":
            direct = await listen_asgi(direct_app, config.host, config.direct_port, "the upstream")
        else:
            direct = await listen(direct_app, config.host, config.direct_port, "the upstream")
        servers.append(direct)
        if ready_file is not None:
            write_ready_file(
                ready_file,
                {
                    "pid": os.getpid(),
                    "port": api.port,
                    "metrics_port": metrics_server.port,
                    "url": http_url(config.host, api.port),
                    "metrics_url": http_url(config.host, metrics_server.port, "/metrics"),
                    "direct_port": direct.port,
                    "direct_url": http_url(config.host, direct.port),
                },
            )
        await stop.wait()
    finally:
        for server in servers:
            await server.close()
        if l2 is not None:
            await l2.close()
        telemetry.shutdown()
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Parse flags and serve until SIGTERM/SIGINT; 0 on a clean stop, 1 if it cannot start."""
    config, ready_file = parse_agent_args(argv)
    try:
        run_loop(serve(config, ready_file))
    except StackError as exc:
        print(f"edge-agent stand-in: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
