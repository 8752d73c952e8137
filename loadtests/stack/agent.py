"""Stand-in of the LLM Edge-Agent: ``python -m loadtests.stack.agent --port 0 --ready-file F``."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from loadtests.errors import StackError
from loadtests.stack.app import EdgeAgentApp, MetricsApp
from loadtests.stack.config import AgentConfig, parse_agent_args
from loadtests.stack.metrics import AgentMetrics
from loadtests.stack.server import App, ServerHandle, start_server
from loadtests.stack.upstream import ResponseCache, latency_sampler

__all__ = ["AgentConfig", "build_app", "http_url", "main", "serve", "write_ready_file"]


def http_url(host: str, port: int, path: str = "") -> str:
    """``http://host:port`` + path, with brackets around IPv6 literals."""
    netloc = f"[{host}]" if ":" in host else host
    return f"http://{netloc}:{port}{path}"


def write_ready_file(path: Path, info: dict[str, Any]) -> None:
    """Write ``info`` as JSON atomically: readers see no file or the whole file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)


def build_app(config: AgentConfig, metrics: AgentMetrics) -> EdgeAgentApp:
    """The API app for ``config``, reporting to ``metrics``."""
    return EdgeAgentApp(
        metrics=metrics,
        cache=ResponseCache(config.cache_max_entries) if config.cache else None,
        upstream_latency_ms=latency_sampler(
            config.upstream_distribution,
            config.upstream_median_ms,
            config.upstream_sigma,
            random.Random(config.seed),
        ),
        completion_tokens=config.completion_tokens,
    )


async def _listen(app: App, host: str, port: int, what: str) -> ServerHandle:
    try:
        return await start_server(app, host, port)
    except OSError as exc:
        raise StackError(
            f"stand-in cannot listen for {what} on {host} port {port}: {exc}; "
            "free the port or pass 0 to pick a free one"
        ) from exc


async def serve(
    config: AgentConfig, ready_file: Path | None, stop: asyncio.Event | None = None
) -> None:
    """Serve the API and the metrics until ``stop`` is set (or SIGTERM/SIGINT arrive)."""
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    metrics = AgentMetrics(CollectorRegistry(auto_describe=True))
    api = await _listen(build_app(config, metrics), config.host, config.port, "the API")
    servers: list[ServerHandle] = [api]
    try:
        metrics_app = MetricsApp(metrics, CONTENT_TYPE_LATEST)
        metrics_server = await _listen(metrics_app, config.host, config.metrics_port, "metrics")
        servers.append(metrics_server)
        if ready_file is not None:
            write_ready_file(
                ready_file,
                {
                    "pid": os.getpid(),
                    "port": api.port,
                    "metrics_port": metrics_server.port,
                    "url": http_url(config.host, api.port),
                    "metrics_url": http_url(config.host, metrics_server.port, "/metrics"),
                },
            )
        await stop.wait()
    finally:
        for server in servers:
            await server.close()
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)


def _run(coro: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # uvloop is optional (not on Windows); the default loop is just slower
        asyncio.run(coro)
    else:
        uvloop.run(coro)


def main(argv: list[str] | None = None) -> int:
    """Parse flags and serve until SIGTERM/SIGINT; 0 on a clean stop, 1 if it cannot listen."""
    config, ready_file = parse_agent_args(argv)
    try:
        _run(serve(config, ready_file))
    except StackError as exc:
        print(f"edge-agent stand-in: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
