"""Gateway vs direct: the experiment's settings, and its two arms as an overhead experiment's.

The direct arm (the baseline) sends the workload straight to the upstream, the gateway arm (the
treatment) through the gateway; the paired deltas gateway − direct are what the gateway adds.
On the embedded stack the arms are ``target.via: direct`` (the stand-in agent's direct
listener, its simulated upstream alone) and ``target.via: gateway``; on a real stack they are
the two URLs the user names.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from loadtests.config.validation import only_known
from loadtests.config.variants import BUDGET_METRICS, Budget, OverheadSpec, Variant

# Reported with their intervals whether or not a budget is set; memory and CPU only when the
# runs have them (the profile measures them, server-side collection is on).
REPORTED = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "memory_bytes", "cpu_percent")
ARMS = ("direct", "gateway")
_URL_RE = re.compile(r"https?://[^\s/]+")


class GatewaySpec(BaseModel):
    """The ``gateway:`` section of a scenario (every field optional; CLI flags override it).

    ``budgets`` optionally bound what the gateway may add (``latency_p95_ms: 5``): judged
    WITHIN, EXCEEDS or INCONCLUSIVE as overhead budgets are; without one a delta is reported.
    ``direct`` and ``gateway`` are the URLs of a real stack, both or neither (then the embedded
    stack's).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pairs: int = Field(default=5, ge=2, le=100)
    settle_s: float = Field(default=3.0, ge=0, le=3600)
    allow_inconclusive: bool = False
    seed: int = 1
    budgets: dict[str, Budget] = Field(default_factory=dict)
    # Start the embedded stack's Prometheus for memory and CPU (a real stack: --prometheus).
    server_side: bool = True
    direct: str | None = None
    gateway: str | None = None

    @field_validator("budgets")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        return only_known(value, BUDGET_METRICS, "budget metric(s)")

    @field_validator("direct", "gateway")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not _URL_RE.match(value):
            raise ValueError(f"expected a URL such as http://127.0.0.1:8080, got {value!r}")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _both_or_neither(self) -> GatewaySpec:
        if (self.direct is None) != (self.gateway is None):
            raise ValueError(
                "give both the direct (upstream) and the gateway URL, or neither for the "
                "embedded stack"
            )
        if self.direct is not None and self.direct == self.gateway:
            raise ValueError(f"the direct and gateway URLs are the same ({self.direct})")
        return self


def arm_variants(spec: GatewaySpec) -> tuple[Variant, Variant]:
    """The direct and the gateway arm as scenario changes (where each arm's load goes)."""
    if spec.direct is None or spec.gateway is None:
        return (
            Variant(set={"target": {"via": "direct"}}),
            Variant(set={"target": {"via": "gateway"}}),
        )
    return (
        Variant(set={"target": {"host": spec.direct, "via": "gateway"}}),
        Variant(set={"target": {"host": spec.gateway, "via": "gateway"}}),
    )


def gateway_experiment(spec: GatewaySpec) -> OverheadSpec:
    """The two-arm experiment: direct as the baseline, gateway as the treatment."""
    direct, gateway = arm_variants(spec)
    return OverheadSpec(
        pairs=spec.pairs,
        settle_s=spec.settle_s,
        allow_inconclusive=spec.allow_inconclusive,
        seed=spec.seed,
        budgets=spec.budgets,
        reported=REPORTED,
        server_side=spec.server_side,
        baseline=direct,
        treatment=gateway,
        kind="gateway",
        labels=ARMS,
        seed_per_pair=True,
    )


__all__ = ["ARMS", "REPORTED", "GatewaySpec", "arm_variants", "gateway_experiment"]
