"""The scenario's stand_in section: what the embedded stand-in stack simulates, and its costs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from loadtests.config.validation import Seconds, SpecModel


class UpstreamLatency(SpecModel):
    """Simulated provider latency of the stand-in on a cache miss."""

    distribution: Literal["constant", "uniform", "exponential", "lognormal"] = "lognormal"
    median_ms: float = Field(default=3.0, ge=0, le=60_000)
    sigma: float = Field(default=0.4, ge=0, le=5)


class OtlpFaultSpec(SpecModel):
    """Faults of the embedded OTLP receiver (see loadtests/stack/otlp/config.py OtlpFaults).

    A stall holds exports unanswered from ``stall_at_s`` after the receiver starts, for
    ``stall_for_s``.
    """

    refuse_fraction: float = Field(default=0.0, ge=0, le=1)
    refuse_status: Literal[503, 429] = 503
    retry_after_s: Seconds | None = Field(default=None, ge=0, le=600)
    latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    stall_at_s: Seconds | None = None
    stall_for_s: Seconds = 0.0

    @model_validator(mode="after")
    def _stall_needs_start(self) -> OtlpFaultSpec:
        if self.stall_for_s > 0 and self.stall_at_s is None:
            raise ValueError("stall_for_s needs stall_at_s (seconds after the receiver starts)")
        return self


class StreamSpec(SpecModel):
    """How the stand-in streams (a chat with ``stream: true``): token pace and first token.

    The first token comes after the upstream latency on a miss (``first_token_ms`` instead when
    set), at once on a hit; then one token every 1/``tokens_per_s`` seconds.
    """

    tokens_per_s: float = Field(default=50.0, gt=0, le=1_000_000)
    first_token_ms: float | None = Field(default=None, ge=0, le=60_000)


class TelemetryCostSpec(SpecModel):
    """A known price of telemetry, charged by the stand-in only while ``telemetry`` is on.

    ``latency_ms`` is slept in every chat answer after the upstream/cache part, ``cpu_us`` of
    CPU spun per chat request, ``memory_bytes`` allocated once at start and held.
    """

    latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    cpu_us: float = Field(default=0.0, ge=0, le=1_000_000)
    memory_bytes: int = Field(default=0, ge=0, le=64 * 2**30)


class StandIn(SpecModel):
    upstream: UpstreamLatency = UpstreamLatency()
    cache: bool = True
    cache_max_entries: int = Field(default=10_000, ge=0)
    completion_tokens: int = Field(default=32, ge=1, le=100_000)  # capped by max_tokens
    # True: a completion has exactly the request's max_tokens tokens when it gives one (trace
    # replay's output lengths); False: completion_tokens, capped by max_tokens.
    honour_max_tokens: bool = False
    telemetry: bool = False  # export spans, metrics and logs to the embedded OTLP receiver
    redis: bool = False  # start a redis-server and use it as the L2 cache
    otlp: OtlpFaultSpec = OtlpFaultSpec()
    stream: StreamSpec = StreamSpec()
    # A single-server queue with service time 1/capacity_rps in front of chat requests: the
    # latency knee sits exactly at this rate. None: no queue.
    capacity_rps: float | None = Field(default=None, gt=0, le=1_000_000)
    # Bytes each chat request allocates and never frees: RSS grows by rate × this per second.
    leak_bytes_per_request: int = Field(default=0, ge=0, le=2**30)
    # A known gateway cost: ms slept in every chat answer of the gateway, never on the direct
    # listener (target.via: direct), so a gateway vs direct experiment knows the truth.
    gateway_cost_ms: float = Field(default=0.0, ge=0, le=60_000)
    # False with telemetry on: the SDK does not start (nothing exported), only the cost applies.
    telemetry_export: bool = True
    telemetry_cost: TelemetryCostSpec = TelemetryCostSpec()


__all__ = ["OtlpFaultSpec", "StandIn", "StreamSpec", "TelemetryCostSpec", "UpstreamLatency"]
