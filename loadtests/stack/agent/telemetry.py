"""The stand-in's per-request telemetry hook: nothing when off, the OpenTelemetry SDK when on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from loadtests.stack.agent.telemetry_record import SHUTDOWN_FLUSH_S, RequestRecord

if TYPE_CHECKING:  # the module imports requests: only with telemetry on
    from loadtests.stack.agent.export_counts import ExportCounts

__all__ = [
    "NO_TELEMETRY",
    "SHUTDOWN_FLUSH_S",
    "NoTelemetry",
    "RequestRecord",
    "RequestTelemetry",
    "start_telemetry",
]


class RequestTelemetry(Protocol):
    """What the app reports to: one call per answered request, one shutdown that flushes."""

    def record(self, request: RequestRecord) -> None: ...

    def shutdown(self, timeout_s: float = SHUTDOWN_FLUSH_S) -> None: ...


class NoTelemetry:
    """Telemetry off: records nothing, exports nothing, imports nothing."""

    __slots__ = ()

    def record(self, request: RequestRecord) -> None:
        """Drop ``request``."""

    def shutdown(self, timeout_s: float = SHUTDOWN_FLUSH_S) -> None:
        """Nothing to flush."""


NO_TELEMETRY = NoTelemetry()


def start_telemetry(
    endpoint: str | None,
    *,
    service_name: str = "edge-agent",
    export_interval_s: float = 5.0,
    counts: ExportCounts | None = None,
) -> RequestTelemetry:
    """The OpenTelemetry SDK exporting OTLP/HTTP to ``endpoint``, or NO_TELEMETRY for None.

    ``counts`` (the agent's metrics) learns what became of each item: loadtests/stack/agent/
    export_counts.py.
    """
    if endpoint is None:
        return NO_TELEMETRY
    # Imported here so that an agent with telemetry off never loads the SDK.
    from loadtests.stack.agent.export_counts import NO_COUNTS
    from loadtests.stack.agent.otel_sdk import OtelTelemetry

    return OtelTelemetry.start(
        endpoint,
        service_name=service_name,
        export_interval_s=export_interval_s,
        counts=counts or NO_COUNTS,
    )
