"""OTLP/HTTP receiver standing in for the OpenTelemetry Collector.

``python -m loadtests.stack.otlp --port 0 --metrics-port 0 --ready-file F [faults]``
accepts POST /v1/traces, /v1/metrics and /v1/logs (protobuf or JSON, optionally gzip), counts
the items under the collector's own metric names on its metrics port and can refuse, delay or
stall exports on purpose. OTLP/gRPC is not served.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from loadtests.errors import StackError
from loadtests.stack.agent.app import MetricsApp
from loadtests.stack.http.server import ServerHandle
from loadtests.stack.http.serving import http_url, listen, run_loop, write_ready_file
from loadtests.stack.otlp.app import FaultState, OtlpReceiverApp, ReceiverMetrics
from loadtests.stack.otlp.codec import MAX_EXPORT_BYTES
from loadtests.stack.otlp.config import OtlpFaults, ReceiverConfig, parse_receiver_args

__all__ = ["OtlpFaults", "ReceiverConfig", "main", "serve"]


async def serve(
    config: ReceiverConfig, ready_file: Path | None, stop: asyncio.Event | None = None
) -> None:
    """Receive exports and serve the metrics until ``stop`` is set (or SIGTERM/SIGINT arrive)."""
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    metrics = ReceiverMetrics(CollectorRegistry(auto_describe=True))
    faults = FaultState(config.faults, random.Random(config.seed))
    app = OtlpReceiverApp(metrics, faults, keep_spans=config.keep_spans)
    servers: list[ServerHandle] = []
    try:
        otlp = await listen(
            app, config.host, config.port, "OTLP/HTTP", max_body_bytes=MAX_EXPORT_BYTES
        )
        servers.append(otlp)
        metrics_app = MetricsApp(metrics, CONTENT_TYPE_LATEST)
        metrics_server = await listen(metrics_app, config.host, config.metrics_port, "metrics")
        servers.append(metrics_server)
        if ready_file is not None:
            write_ready_file(
                ready_file,
                {
                    "pid": os.getpid(),
                    "port": otlp.port,
                    "metrics_port": metrics_server.port,
                    "url": http_url(config.host, otlp.port),
                    "metrics_url": http_url(config.host, metrics_server.port, "/metrics"),
                },
            )
        await stop.wait()
    finally:
        for server in servers:
            await server.close()
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Parse flags and serve until SIGTERM/SIGINT; 0 on a clean stop, 1 if it cannot listen."""
    config, ready_file = parse_receiver_args(argv)
    try:
        run_loop(serve(config, ready_file))
    except StackError as exc:
        print(f"otlp receiver stand-in: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
