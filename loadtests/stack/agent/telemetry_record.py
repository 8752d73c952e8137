"""What the stand-in tells its telemetry about one answered request (shared by every backend).

A module of its own so that the SDK backend (otel_sdk) and the hook that chooses it (telemetry)
both import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SHUTDOWN_FLUSH_S", "RequestRecord"]

# Seconds the agent may spend flushing spans, metrics and logs when it stops; the launchers
# send SIGKILL 5 s after SIGTERM, so the flush has to finish well inside that.
SHUTDOWN_FLUSH_S = 3.0


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One answered request as telemetry sees it; ``cache_status``/``cache_layer`` may be ""."""

    method: str
    route: str
    status: int
    duration_s: float
    model: str = ""
    provider: str = ""
    cache_status: str = ""
    cache_layer: str = ""
