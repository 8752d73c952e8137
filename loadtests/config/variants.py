"""Scenario variants for A/B runs: what changes between baseline and treatment, and the budgets."""

from __future__ import annotations

import copy
import subprocess
import time
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from analysis.contract.targets import Target, TargetSyntaxError
from loadtests.config.validation import only_known
from loadtests.errors import HarnessError

# Budget metric -> unit; the Week 1 report's telemetry overhead budgets use these.
BUDGET_METRICS = {
    "latency_p50_ms": "ms",
    "latency_p95_ms": "ms",
    "latency_p99_ms": "ms",
    "memory_bytes": "bytes",
    "cpu_percent": "% of one core",
    "network_mbps": "Mbit/s",
}


def _size(value: Any) -> float:
    """A budget as a number; sizes may carry KB/MB/GB/KiB/MiB/GiB."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a bool")
    if isinstance(value, int | float):
        return float(value)
    try:
        return Target.parse(f"< {value}").value
    except TargetSyntaxError as exc:
        raise ValueError(str(exc)) from None


Budget = Annotated[float, BeforeValidator(_size)]


class Variant(BaseModel):
    """``set`` deep-merges into the scenario; ``command`` reconfigures an external stack."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    set: dict[str, Any] = Field(default_factory=dict)
    command: str | None = None
    ready_timeout: float = Field(default=120.0, gt=0)


class OverheadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pairs: int = Field(default=5, ge=2, le=100)
    settle_s: float = Field(default=5.0, ge=0, le=3600)
    allow_inconclusive: bool = False
    # A/A calibration: the baseline variant also runs as the treatment; budgets are judged on the
    # minimum detectable effect (RESOLVES / TOO NOISY), not on a delta.
    calibrate: bool = False
    seed: int = 1
    budgets: dict[str, Budget] = Field(default_factory=dict)
    # Metrics whose delta is reported without a budget (and left out when no run has them).
    reported: tuple[str, ...] = ()
    # Server-side figures need the embedded Prometheus; None: only when a budget needs them.
    server_side: bool | None = None
    baseline: Variant = Variant(set={"stand_in": {"telemetry": False}})
    treatment: Variant = Variant(set={"stand_in": {"telemetry": True}})
    # What the experiment measures ("overhead", "gateway") and what its two arms are called in
    # the folder names, tables and report; the analysis keeps the keys baseline and treatment.
    kind: str = Field(default="overhead", pattern=r"^[a-z][a-z0-9-]{0,30}$")
    labels: tuple[str, str] = ("baseline", "treatment")
    # Pair k runs with load.seed + k: fresh prompts differ from pair to pair (a real target's
    # cache keeps what an earlier pair sent) and stay the same within a pair.
    seed_per_pair: bool = False

    @field_validator("budgets")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        return only_known(value, BUDGET_METRICS, "budget metric(s)")

    @field_validator("reported")
    @classmethod
    def _known_reported(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        only_known(dict.fromkeys(value), BUDGET_METRICS, "reported metric(s)")
        return value

    @model_validator(mode="after")
    def _something_to_judge(self) -> OverheadSpec:
        if not self.budgets and not self.reported:
            raise ValueError("needs at least one budget, e.g. budgets: {latency_p95_ms: 5}")
        return self

    def metrics(self) -> tuple[str, ...]:
        """Every metric whose delta the experiment shows: the budgets', then the reported."""
        return (*self.budgets, *(m for m in self.reported if m not in self.budgets))


SERVER_BUDGETS = ("memory_bytes", "cpu_percent", "network_mbps")


def ab_variants(spec: OverheadSpec) -> dict[str, Variant]:
    """What runs as "baseline" and as "treatment"; in an A/A calibration the baseline on both."""
    return {
        "baseline": spec.baseline,
        "treatment": spec.baseline if spec.calibrate else spec.treatment,
    }


def needs_server_side(spec: OverheadSpec) -> bool:
    """Whether the runs must collect server-side series for these budgets."""
    if spec.server_side is not None:
        return spec.server_side
    return any(metric in SERVER_BUDGETS for metric in spec.budgets)


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``changes`` merged in, mappings recursively."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def reconfigure(variant: Variant, health_url: str | None, runner=subprocess.run) -> None:
    """Run the variant's command, then wait until the target's health endpoint answers 200."""
    if variant.command is None:
        return
    result = runner(variant.command, shell=True, capture_output=True, text=True)
    if result.returncode != 0:
        raise HarnessError(
            f"variant command failed (exit {result.returncode}): {variant.command}\n"
            f"{(result.stderr or result.stdout)[-1000:]}"
        )
    if health_url is None:
        return
    deadline = time.monotonic() + variant.ready_timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(health_url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise HarnessError(
        f"{health_url} did not answer 200 within {variant.ready_timeout:g} s "
        f"after: {variant.command}"
    )


__all__ = [
    "BUDGET_METRICS",
    "OverheadSpec",
    "Variant",
    "ab_variants",
    "deep_merge",
    "needs_server_side",
    "reconfigure",
]
