"""Scenario model: YAML files plus CLI overrides become one validated, frozen Scenario."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from analysis.contract.schema import SERIES_METRIC_UNITS, STAGE_TARGET_METRICS, VERDICT_METRICS
from analysis.contract.targets import Target, TargetSyntaxError
from loadtests.config.gateway import GatewaySpec
from loadtests.config.replay import TraceSpec, timeline_for
from loadtests.config.sessionspec import SessionSpec
from loadtests.config.shipped import shipped_scenario, shipped_scenario_names
from loadtests.config.standin import StandIn
from loadtests.config.validation import Seconds, SpecModel, only_known, parse_duration_s
from loadtests.config.variants import OverheadSpec
from loadtests.errors import ScenarioError
from loadtests.placement import AUTO, check_setting


class Stage(SpecModel):
    """A stretch of the schedule; the rate moves linearly from ``start_rps`` to ``rate_rps``."""

    duration: Seconds = Field(gt=0)
    rate_rps: float = Field(ge=0)
    start_rps: float | None = Field(default=None, ge=0)
    judge: bool = True


class Load(SpecModel):
    rate_rps: float = Field(default=1000.0, gt=0, le=1_000_000)
    ramp: Seconds = 10.0
    duration: Seconds = Field(default=60.0, gt=0)
    stages: tuple[Stage, ...] = ()
    arrival: Literal["uniform", "poisson", "gamma"] = "uniform"
    burstiness: float = Field(default=1.0, gt=0, le=100)
    max_concurrency: int = Field(default=1000, ge=1, le=100_000)
    timeout: Seconds = Field(default=10.0, gt=0)
    workers: int = Field(default=0, ge=0, le=64)
    seed: int = 1
    # CPU affinity: auto (generator and embedded stack on their own cores), off, or GEN:STACK.
    placement: str = AUTO
    # A trace file replayed instead of rate, stages and arrival (loadtests/config/replay.py).
    trace: TraceSpec | None = None

    @field_validator("placement")
    @classmethod
    def _placement(cls, value: str) -> str:
        return check_setting(value)

    @model_validator(mode="after")
    def _trace_alone(self) -> Load:
        if self.trace is not None:
            if self.stages:
                raise ValueError("a trace replaces load.stages; give one or the other")
            timeline_for(self.trace)  # a bad trace file fails here (TraceFileError, exit 2)
        return self

    def steady_rate_rps(self) -> float:
        """The rate of the judged part: rate_rps, or a trace's mean rate."""
        return timeline_for(self.trace).mean_rps if self.trace is not None else self.rate_rps

    def resolved_stages(self) -> tuple[Stage, ...]:
        """The schedule as stages: explicit ones, else a ramp from 0 (not judged) then steady.

        A trace is one judged stage as long as its replay, at its mean rate.
        """
        if self.trace is not None:
            timeline = timeline_for(self.trace)
            return (Stage(duration=timeline.duration_s, rate_rps=timeline.mean_rps),)
        if self.stages:
            return self.stages
        steady = Stage(duration=self.duration, rate_rps=self.rate_rps, judge=True)
        if self.ramp <= 0:
            return (steady,)
        ramp = Stage(duration=self.ramp, start_rps=0.0, rate_rps=self.rate_rps, judge=False)
        return (ramp, steady)


class ChatSpec(SpecModel):
    models: dict[str, float] = Field(default_factory=lambda: {"gpt-4o-mini": 1.0})
    prompt_pool: int = Field(default=200, ge=1, le=10_000_000)
    repeat_rate: float = Field(default=0.5, ge=0, le=1)
    prompt_words: tuple[int, int] = (8, 64)
    max_tokens: int = Field(default=64, ge=1, le=100_000)
    stream: bool = False
    # Streams ask for the server's token counts (stream_options.include_usage); off for a
    # server that refuses the option.
    stream_usage: bool = True

    @field_validator("models")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("needs at least one model")
        if any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("model weights must be >= 0 and not all zero")
        return value


class RequestKind(SpecModel):
    kind: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    weight: float = Field(gt=0)
    method: Literal["GET", "POST"] = "GET"
    path: str = Field(pattern=r"^/")
    chat: ChatSpec | None = None
    session: SessionSpec | None = None  # a conversation of chat turns (docs/sessions.md)

    @model_validator(mode="after")
    def _chat_needs_post(self) -> RequestKind:
        if self.chat is not None and self.method != "POST":
            raise ValueError("a chat request kind must use method POST")
        if self.session is not None and self.chat is None:
            raise ValueError("a session needs the chat spec of its turns (chat: ...)")
        return self


class ProcessSpec(SpecModel):
    """A local process whose RSS and CPU the process sampler reads once a second: pid or name."""

    pid: int | None = Field(default=None, ge=1)
    name: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _pid_or_name(self) -> ProcessSpec:
        if self.pid is not None and self.name is not None:
            raise ValueError("give pid or name, not both")
        return self


class MetricsSpec(SpecModel):
    """Server-side metrics: a profile of PromQL, single-query overrides, a process to sample.

    ``profile`` is a name in scenarios/profiles/ or a path to a YAML file; left out, the run
    picks "embedded" for the embedded stack and "edge-agent-compose" otherwise (see
    loadtests/config/profiles.py ``default_profile_name``).
    """

    profile: str | None = Field(default=None, min_length=1)
    queries: dict[str, str] = Field(default_factory=dict)
    process: ProcessSpec = ProcessSpec()

    @field_validator("queries")
    @classmethod
    def _known_metrics(cls, value: dict[str, str]) -> dict[str, str]:
        only_known(value, SERIES_METRIC_UNITS)
        empty = sorted(metric for metric, query in value.items() if not query.strip())
        if empty:
            raise ValueError(f"empty PromQL for {empty}")
        return value


class TimingHeaders(SpecModel):
    """Response headers in which the target reports its own timing, in milliseconds."""

    upstream_ms: str | None = "X-Upstream-Time-Ms"
    overhead_ms: str | None = "X-Edge-Overhead-Ms"


class TargetSpec(SpecModel):
    host: str | None = None
    prometheus: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # Name of an environment variable holding an API key, sent as "Authorization: Bearer ...";
    # only the name travels or is written anywhere, never the value.
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timing_headers: TimingHeaders = TimingHeaders()
    # TLS of an https:// host: trust this CA bundle (PEM) instead of the system's CAs, or, with
    # insecure, verify neither the certificate nor the host name.
    ca_file: str | None = None
    insecure: bool = False
    # The embedded stack only: load its gateway (the stand-in agent's API) or, "direct", the
    # simulated upstream behind it (the agent's direct listener). A real upstream is a host.
    via: Literal["gateway", "direct"] = "gateway"

    @model_validator(mode="after")
    def _direct_needs_embedded(self) -> TargetSpec:
        if self.via == "direct" and self.host is not None:
            raise ValueError(
                "via: direct sends the load to the embedded stack's upstream; with a host, give "
                "the upstream's own URL as host instead"
            )
        return self

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValueError(
                f"CA file {value} does not exist; give the PEM file of the target's CA"
            )
        return str(path.resolve())  # absolute: the plan names the same file in every worker

    @field_validator("host", "prometheus")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"expected a URL such as http://127.0.0.1:8080, got {value!r}")
        return value.rstrip("/") if value else value


def _check_target(value: Any) -> str:
    try:
        return Target.parse(value).text
    except TargetSyntaxError as exc:
        raise ValueError(str(exc)) from None


TargetText = Annotated[str, BeforeValidator(_check_target)]


class SloSpec(SpecModel):
    """Per-request thresholds (ms) a request must meet to count as goodput.

    None set: the latency targets stand in (see analysis/measuring/goodput.py). ``response_ms``
    applies to requests that are not streamed, ``ttft_ms`` and ``itl_ms`` to streamed ones.
    """

    response_ms: float | None = Field(default=None, gt=0)
    ttft_ms: float | None = Field(default=None, gt=0)
    itl_ms: float | None = Field(default=None, gt=0)


class Scenario(SpecModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,60}$")
    description: str = ""
    target: TargetSpec = TargetSpec()
    load: Load = Load()
    requests: tuple[RequestKind, ...] = Field(min_length=1)
    stand_in: StandIn = StandIn()
    targets: dict[str, TargetText] = Field(default_factory=dict)
    # What each stage of a multi-stage run is held to (spike, stress); default: these of targets.
    stage_targets: dict[str, TargetText] = Field(default_factory=dict)
    metrics: MetricsSpec = MetricsSpec()
    slo: SloSpec = SloSpec()  # per-request thresholds of goodput
    overhead: OverheadSpec | None = None  # telemetry A/B budgets, used by `edgeperf overhead`
    gateway: GatewaySpec | None = None  # gateway vs direct, used by `edgeperf gateway`

    @field_validator("targets")
    @classmethod
    def _known_metrics(cls, value: dict[str, str]) -> dict[str, str]:
        return only_known(value, VERDICT_METRICS)

    @field_validator("stage_targets")
    @classmethod
    def _stage_metrics(cls, value: dict[str, str]) -> dict[str, str]:
        return only_known(value, STAGE_TARGET_METRICS)

    @model_validator(mode="after")
    def _unique_kinds(self) -> Scenario:
        kinds = [r.kind for r in self.requests]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"request kinds must be unique, got {kinds}")
        if self.load.trace is not None:
            self.trace_kind()
        return self

    def trace_kind(self) -> RequestKind:
        """The chat request kind a trace's rows are sent as (load.trace.kind, else the first)."""
        name = self.load.trace.kind if self.load.trace is not None else None
        chats = [r for r in self.requests if r.chat is not None]
        found = [r for r in chats if name is None or r.kind == name]
        if not found:
            which = f"named {name!r} " if name else ""
            raise ValueError(
                f"load.trace needs a request kind {which}with a chat section to send its rows as"
            )
        return found[0]

    def rescaled_rate_target(self, old_rate_rps: float) -> Scenario:
        """Scale a range target on the rate from ``old_rate_rps`` to this scenario's rate."""
        rate_target = self.parsed_targets().get("request_rate_rps")
        if rate_target is None or rate_target.op != "range" or old_rate_rps == self.load.rate_rps:
            return self
        factor = self.load.rate_rps / old_rate_rps
        data = self.model_dump(mode="json")
        low, high = rate_target.value * factor, rate_target.high * factor
        data["targets"]["request_rate_rps"] = f"{low:g}..{high:g}"
        return Scenario.model_validate(data)

    def parsed_targets(self) -> dict[str, Target]:
        return {metric: Target.parse(text) for metric, text in self.targets.items()}

    def to_yaml(self) -> str:
        """The resolved scenario as YAML, with header values (secrets) removed."""
        data = self.model_dump(mode="json")
        data["target"]["headers"] = {k: "<redacted>" for k in data["target"]["headers"]}
        return yaml.safe_dump(data, sort_keys=False)


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    keys = dotted.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _trace_beside(data: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """The load.trace mapping, if any; a relative file in it names a file beside the scenario
    when there is one there (else one from the current directory)."""
    trace = (data.get("load") or {}).get("trace")
    if not isinstance(trace, dict):
        return None
    if isinstance(trace.get("file"), str):
        beside = path.parent / trace["file"]
        if not Path(trace["file"]).is_absolute() and beside.is_file():
            trace["file"] = str(beside)
    return trace


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read a scenario file, apply ``overrides`` (dotted keys), validate; raise ScenarioError.

    A path that is no file but names a shipped scenario ("health", "scenarios/health.yaml")
    reads the shipped one, so an installed copy runs them from any directory.
    """
    path = Path(path)
    if not path.is_file():
        path = shipped_scenario(path) or path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        shipped = ", ".join(shipped_scenario_names()) or "none installed"
        raise ScenarioError(
            f"{path}: scenario file not found; give a scenario YAML file or the name of a "
            f"shipped scenario ({shipped})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario file: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping at the top level")
    written_rate = (data.get("load") or {}).get("rate_rps")
    trace = _trace_beside(data, path)
    for dotted, value in (overrides or {}).items():
        if value is not None and trace is not None and dotted == "load.rate_rps":
            trace.pop("speedup", None)  # --rate on a replay: the trace's mean rate
            dotted = "load.trace.rate_rps"
        if value is not None:
            _set_path(data, dotted, value)
    try:
        scenario = Scenario.model_validate(data)
        if isinstance(written_rate, int | float) and written_rate > 0:
            scenario = scenario.rescaled_rate_target(float(written_rate))
        return scenario
    except ValidationError as exc:
        problems = [f"{path}: field '{_location(e['loc'])}': {e['msg']}" for e in exc.errors()]
        raise ScenarioError("\n".join(problems)) from None


__all__ = [
    "Load",
    "MetricsSpec",
    "ProcessSpec",
    "RequestKind",
    "Scenario",
    "Stage",
    "TraceSpec",
    "load_scenario",
    "parse_duration_s",
]
