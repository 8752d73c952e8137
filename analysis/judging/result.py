"""The typed run result: ``summary.json`` as a model, written from it and read back into it.

``RunResult`` mirrors what ``analysis.judging.summary.build_summary`` produces (see
docs/run-directory.md): the status, the verdicts, the measurements with one nested model per
group the reports read (latency, server, generator, streaming, goodput, proxy, cache effect,
stages, spike, knee, memory growth, outages, generator stalls, ...), the warnings and the run's
facts.

- Keys the model does not name are kept (``extra="allow"``) and written back, so nothing is lost.
- Keys a document lacks get defaults (None, "", empty), so summaries of older runs load; and
  ``to_dict`` writes back only the keys that were there (``exclude_unset``), in the order the
  fields are declared here, which is the order ``build_summary`` writes them in. Keep it so.
- Reading is lenient by default: a value of an unexpected type (a hand-edited or foreign file)
  is dropped and its default used instead, rather than failing the whole document.
  ``from_dict(..., exact=True)`` (how a fresh analysis builds it) raises instead, on a wrong type
  and on any key the model does not name, so that a key renamed in a producer fails at once
  instead of leaving the model's field at its default (a "—" in the report).

Numbers stay as they were (an int stays an int, a float a float), so the JSON text written from
the model is the same as that of the plain document. Light: no pandas, only pydantic.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    model_validator,
)

# A measured number: NaN is written as null, so every figure may be None. Ints stay ints.
Num = int | float | None
_MAX_REPAIRS = 50  # lenient reading drops at most this many bad values, then gives up


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as None, tuples as lists, numpy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary_json(summary: dict[str, Any]) -> str:
    """``summary`` as indented JSON text (NaN and infinities as null)."""
    return json.dumps(json_safe(summary), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def _drop_bad(data: dict[str, Any], errors: list[Any]) -> dict[str, Any]:
    """``data`` without the values ``errors`` point at: a bad list item or dict entry alone."""
    data = dict(data)
    for error in errors:
        loc = error.get("loc") or ()
        if not loc or loc[0] not in data:
            continue
        name, value = loc[0], data[loc[0]]
        if len(loc) >= 2 and isinstance(value, list) and isinstance(loc[1], int):
            data[name] = [v for i, v in enumerate(value) if i != loc[1]]
        elif len(loc) >= 2 and isinstance(value, dict) and loc[1] in value:
            data[name] = {k: v for k, v in value.items() if k != loc[1]}
        else:
            del data[name]
    return data


class Record(BaseModel):
    """Base of every part of the result: extra keys kept, defaults for missing ones, frozen."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    @model_validator(mode="wrap")
    @classmethod
    def _lenient(
        cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        exact = bool((info.context or {}).get("exact"))
        for _ in range(_MAX_REPAIRS):
            try:
                record = handler(data)
                if exact and record.model_extra:  # a key the model does not name: renamed?
                    raise ValueError(
                        f"{cls.__name__} has no field for {sorted(record.model_extra)}"
                    )
                return record
            except ValidationError as exc:
                if exact or not isinstance(data, dict):
                    raise
                repaired = _drop_bad(data, exc.errors())
                if repaired == data:
                    raise
                data = repaired
        return handler(data)

    def empty(self) -> bool:
        """Whether the document had no keys at all here (``{}``)."""
        return not self.model_fields_set and not self.model_extra

    def provided(self, name: str) -> bool:
        """Whether the document had the key ``name`` (even as null); a misspelt name raises."""
        if name not in type(self).model_fields:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        return name in self.model_fields_set


class Percentiles(Record):
    """Percentiles in ms; each group has some of these (send lag: P50/P99/max, ...)."""

    p50: Num = None
    p90: Num = None
    p95: Num = None
    p99: Num = None
    p999: Num = None
    max: Num = None


class TokenRates(Record):
    """Tokens/s per stream: its slow tail is at the low percentiles."""

    p50: Num = None
    p10: Num = None
    p5: Num = None
    p1: Num = None
    min: Num = None


class Window(Record):
    """The judged (steady) window."""

    start_us: Num = None
    end_us: Num = None
    duration_s: Num = None
    source: str | None = None


class ServerSeries(Record):
    """A server-side figure beside the four targeted ones (``server.others``)."""

    value: Num = None
    unit: str = ""
    source: str = ""
    missing: str = ""


class OtlpSignal(Record):
    """One signal's OTLP items over the run window and the share delivered (``server.otlp``)."""

    produced: Num = None
    delivered: Num = None
    failed: Num = None
    dropped: Num = None
    retried: Num = None
    accepted: Num = None
    refused: Num = None  # refused attempts at the collector: a retried item counts each time
    pending: Num = None  # produced, neither delivered nor lost by the window's end
    percent: Num = None  # None when only a bound is known
    low_percent: Num = None
    high_percent: Num = None
    basis: str = ""
    note: str = ""


class OtlpDelivery(Record):
    """OTLP export success per signal, the counts behind it and the signal that decided it."""

    deciding_signal: str | None = None
    low_percent: Num = None
    high_percent: Num = None
    signals: dict[str, OtlpSignal] = Field(default_factory=dict)
    counters: dict[str, str] = Field(default_factory=dict)  # figure -> the query behind it


class Server(Record):
    """Server-side figures, where each came from, and why any is missing."""

    memory_max_bytes: Num = None
    cpu_mean_percent: Num = None
    cpu_p95_percent: Num = None
    otlp_export_success_percent: Num = None
    sources: dict[str, str] = Field(default_factory=dict)
    missing: dict[str, str] = Field(default_factory=dict)
    others: dict[str, ServerSeries] = Field(default_factory=dict)
    problems: list[str] = Field(default_factory=list)
    otlp: OtlpDelivery | None = None


class Generator(Record):
    """What the load generator measured about itself."""

    workers: int | None = 1
    cpu_s: Num = None
    wall_s: Num = None
    cpu_percent_of_core: Num = None
    cpu_us_per_request: Num = None
    send_lag_ms: Percentiles = Field(default_factory=Percentiles)
    max_concurrency: Num = None
    cap_waits: Num = None
    max_in_flight: Num = None
    connections_opened: Num = None
    connect_ms: Percentiles = Field(default_factory=Percentiles)  # TCP connect + TLS handshake


class KindFigures(Record):
    """One request kind in the steady window; the ``ttft_*`` figures only for streamed kinds."""

    requests: Num = None
    errors: Num = None
    p50_ms: Num = None
    p95_ms: Num = None
    p99_ms: Num = None
    rate_rps: Num = None
    cache_hits: Num = None
    cache_hit_percent: Num = None
    streamed: Num = None
    ttft_p50_ms: Num = None
    ttft_p95_ms: Num = None
    ttft_p99_ms: Num = None
    tokens_per_s_p50: Num = None


class Goodput(Record):
    """Requests that succeeded and met every per-request threshold."""

    requests: Num = None
    good: Num = None
    percent: Num = None
    rate_rps: Num = None
    thresholds_ms: dict[str, int | float] = Field(default_factory=dict)
    thresholds_source: str | None = None
    missed: dict[str, int] = Field(default_factory=dict)
    missing: str = ""


class Streaming(Record):
    """TTFT, inter-token latency, tokens/s and completion of streamed requests."""

    requests: Num = None
    completed: Num = None
    completion_percent: Num = None
    tokens: Num = None
    ttft_requests: Num = None
    ttft_ms: Percentiles = Field(default_factory=Percentiles)
    ttft_from_send_ms: Percentiles = Field(default_factory=Percentiles)
    itl_gap_ms: Percentiles = Field(default_factory=Percentiles)  # every chunk gap a sample
    itl_gaps: Num = None
    tpot_ms: Percentiles = Field(default_factory=Percentiles)
    tpot_requests: Num = None
    itl_ms: Percentiles = Field(default_factory=Percentiles)  # older name of tpot_ms
    itl_requests: Num = None
    e2e_ms: Percentiles = Field(default_factory=Percentiles)
    e2e_requests: Num = None
    rate_requests: Num = None
    tokens_per_s: TokenRates = Field(default_factory=TokenRates)
    missing: str = ""

    def tpot(self) -> tuple[Percentiles, Num]:
        """TPOT percentiles and requests; a summary written before the name has them as itl."""
        if "tpot_ms" in self.model_fields_set:
            return self.tpot_ms, self.tpot_requests
        return self.itl_ms, self.itl_requests


class Usage(Record):
    """Token usage the server reported (analysis/measuring/usage.py); absent in older runs."""

    requests: Num = None
    reported: Num = None
    missing_percent: Num = None
    prompt_tokens: Num = None
    completion_tokens: Num = None
    cached_tokens: Num = None
    cached_percent: Num = None
    output_tokens_per_s: Num = None
    decode_tokens_per_s: Num = None
    decode_streams: Num = None
    streams_compared: Num = None
    streams_disagreeing: Num = None
    disagreeing_percent: Num = None
    stream_usage_tokens: Num = None
    stream_chunks: Num = None
    missing: str = ""


class Proxy(Record):
    """Times the target reported (overhead, upstream) and what neither explains."""

    requests: Num = None
    overhead_ms: Percentiles = Field(default_factory=Percentiles)
    upstream_ms: Percentiles = Field(default_factory=Percentiles)
    upstream_requests: Num = None
    unexplained_ms: Percentiles = Field(default_factory=Percentiles)
    unexplained_requests: Num = None
    missing: str = ""


class CacheStatusFigures(Record):
    """Latency (and TTFT, for streamed runs) of the responses with one X-Cache-Status."""

    requests: Num = None
    latency_ms: Percentiles = Field(default_factory=Percentiles)
    ttft_ms: Percentiles = Field(default_factory=Percentiles)


class CacheKind(Record):
    """Hits, misses and their latency split for one request kind."""

    hits: Num = None
    misses: Num = None
    hit_percent: Num = None
    hit_p50_ms: Num = None
    hit_p95_ms: Num = None
    hit_p99_ms: Num = None
    miss_p50_ms: Num = None
    miss_p95_ms: Num = None
    miss_p99_ms: Num = None


class CacheEffect(Record):
    """Hit ratio and the latency of hits against misses."""

    hits: Num = None
    misses: Num = None
    hit_percent: Num = None
    by_status: dict[str, CacheStatusFigures] = Field(default_factory=dict)
    by_kind: dict[str, CacheKind] = Field(default_factory=dict)
    missing: str = ""


class Stage(Record):
    """One stage of a staged run, measured after its settling seconds."""

    stage: int | None = None
    start_s: Num = None
    end_s: Num = None
    start_rps: Num = None
    end_rps: Num = None
    judge: bool | None = None
    settle_s: Num = None
    offered_rps: Num = None
    achieved_rps: Num = None
    requests: Num = None
    errors: Num = None
    error_percent: Num = None
    latency_ms: Percentiles = Field(default_factory=Percentiles)
    met: bool | None = None
    missed: list[str] = Field(default_factory=list)
    reason: str = ""


class SpikeSecond(Record):
    """One whole second after a spike's end."""

    k: int | None = None
    requests: Num = None
    p99_ms: Num = None
    error_percent: Num = None
    within: bool | None = None


class Spike(Record):
    """Recovery after the spike stage, against the stage before."""

    stage: int | None = None
    spike_rps: Num = None
    baseline_rps: Num = None
    recovery_s: Num = None
    recovered: bool | None = None
    spike_stage_met: bool | None = None
    baseline_p99_ms: Num = None
    baseline_error_percent: Num = None
    p99_limit_ms: Num = None
    error_limit_percent: Num = None
    sustain_s: Num = None
    observed_s: Num = None
    seconds: list[SpikeSecond] = Field(default_factory=list)
    reason: str | None = None


class Knee(Record):
    """The knee of a stress run."""

    knee_rps: Num = None
    steps: Num = None
    first_failing_stage: int | None = None
    first_failing_rps: Num = None
    why: list[str] = Field(default_factory=list)
    reason: str = ""


class MemoryGrowth(Record):
    """The shape of the server's memory and its sustained slope (``analysis.shapes.soak``)."""

    slope_mb_per_h: Num = None
    low_mb_per_h: Num = None
    high_mb_per_h: Num = None
    points: Num = None
    warmup_s: Num = None
    fitted_s: Num = None
    first_bytes: Num = None
    last_bytes: Num = None
    shape: str = ""  # flat, plateau, linear, falling or growing (still levelling off)
    description: str = ""
    rise_bytes: Num = None
    noise_bytes: Num = None
    fit_start_s: Num = None  # the fitted line, s from the load's start
    fit_end_s: Num = None
    fit_start_bytes: Num = None
    fit_end_bytes: Num = None
    needed_s: Num = None  # for a shape still growing: the judged window that would tell
    source: str = ""
    reason: str | None = None


class Outage(Record):
    """Consecutive failed requests; times in s from the load's start."""

    start_s: Num = None
    end_s: Num = None
    requests: Num = None
    errors_by_class: dict[str, int] = Field(default_factory=dict)
    recovered_s: Num = None


class GeneratorStall(Record):
    """A pause of the generator itself (requests left late together); s from the load's start."""

    start_s: Num = None
    end_s: Num = None  # when its last late request left
    duration_ms: Num = None  # its largest send lag: about the pause
    requests: Num = None  # scheduled during it
    held_in_flight: Num = None  # in flight across it: answers read late
    held_max_service_ms: Num = None
    worker: int | None = None
    cause: str = ""


class SessionTurn(Record):
    """One turn index (or "first" / "later") of multi-turn sessions, in the judged window."""

    turn: str = ""
    requests: Num = None
    errors: Num = None
    latency_ms: Percentiles = Field(default_factory=Percentiles)
    ttft_ms: Percentiles = Field(default_factory=Percentiles)
    request_bytes_p50: Num = None
    request_bytes_max: Num = None
    hits: Num = None
    misses: Num = None
    hit_percent: Num = None


class Sessions(Record):
    """Multi-turn sessions: outcomes over the run, figures by turn (``measuring.sessions``)."""

    started: Num = None
    completed: Num = None
    failed: Num = None
    cut: Num = None  # stopped between turns by the end of the run
    completed_percent: Num = None
    first_turn: SessionTurn = Field(default_factory=SessionTurn)
    later_turns: SessionTurn = Field(default_factory=SessionTurn)
    by_turn: list[SessionTurn] = Field(default_factory=list)
    missing: str = ""


class ReplaySkipped(Record):
    """Rows of a trace file not sent, by reason."""

    outside_window: Num = None
    invalid: Num = None  # a zero input or output length
    not_sent: Num = None  # due, never sent by the generator
    unaccounted: Num = None  # neither sent nor counted: an interrupted run


class Replay(Record):
    """Replay fidelity of a trace run: send lag against the trace's time, rows skipped and why."""

    file: str = ""
    format: str = ""
    speedup: Num = None
    passes: Num = None
    rows_in_file: Num = None
    rows_scheduled: Num = None
    rows_sent: Num = None
    rows_skipped: ReplaySkipped = Field(default_factory=ReplaySkipped)
    send_lag_ms: Percentiles = Field(default_factory=Percentiles)
    on_time_percent: Num = None  # rows sent within on_time_ms of their trace time
    on_time_ms: Num = None


class Measurements(Record):
    """The ``measurements`` object: DESIGN.md's keys first, then the details and the groups."""

    rate_rps: Num = None
    requests: Num = None
    errors: Num = None
    error_rate: Num = None
    latency_ms: Percentiles = Field(default_factory=Percentiles)
    service_time_ms: Percentiles = Field(default_factory=Percentiles)
    send_lag_ms: Percentiles = Field(default_factory=Percentiles)
    requests_sent: Num = None
    not_sent: Num = None  # due in the steady window, never sent: the cap stayed full
    offered_rps: Num = None  # (requests + not_sent) / window
    requests_total: Num = None
    bytes_received: Num = None
    errors_by_class: dict[str, int] = Field(default_factory=dict)
    by_kind: dict[str, KindFigures] = Field(default_factory=dict)
    models: dict[str, int] = Field(default_factory=dict)
    cache: dict[str, int] = Field(default_factory=dict)
    missing: str = ""
    server: Server = Field(default_factory=Server)
    window: Window | None = None
    generator: Generator = Field(default_factory=Generator)
    goodput_rps: Num = None
    goodput: Goodput = Field(default_factory=Goodput)
    streaming: Streaming = Field(default_factory=Streaming)
    usage: Usage = Field(default_factory=Usage)
    proxy: Proxy = Field(default_factory=Proxy)
    cache_effect: CacheEffect = Field(default_factory=CacheEffect)
    stages: list[Stage] = Field(default_factory=list)
    stage_targets: dict[str, str] = Field(default_factory=dict)
    spike: Spike | None = None
    knee: Knee | None = None
    memory_growth: MemoryGrowth | None = None
    outages: list[Outage] = Field(default_factory=list)
    generator_stall_count: Num = None
    generator_stalls: list[GeneratorStall] = Field(default_factory=list)  # the longest 50
    stall_delayed_requests: Num = None  # requests of the steady window a stall delayed
    latency_without_stalls_ms: Percentiles = Field(default_factory=Percentiles)
    sessions: Sessions | None = None  # runs with multi-turn sessions only
    replay: Replay | None = None  # a trace replay only


class VerdictRecord(Record):
    """One target judged (``analysis.judging.verdicts.Verdict`` as saved)."""

    metric: str = ""
    target: str = ""
    measured: Num = None
    unit: str = ""
    status: str = ""
    margin: Num = None
    source: str = ""
    reason: str = ""


class RunInfo(Record):
    """Facts of the run from its metadata."""

    outcome: str | None = None
    started_utc: str | None = None
    ended_utc: str | None = None
    harness_version: str | None = None
    git_sha: str | None = None
    host: str | None = None
    target: str | None = None


class RunResult(Record):
    """The whole ``summary.json`` document."""

    scenario: str = ""
    status: str = ""
    measurements: Measurements = Field(default_factory=Measurements)
    verdicts: list[VerdictRecord] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    run: RunInfo = Field(default_factory=RunInfo)
    summary_version: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, exact: bool = False) -> RunResult:
        """The result of a summary document (NaN becomes None).

        Lenient unless ``exact``: a value of the wrong type is dropped (its default used).
        """
        if not isinstance(data, dict):
            raise TypeError(f"a summary is a JSON object, not {type(data).__name__}")
        return cls.model_validate(json_safe(data), context={"exact": exact})

    @classmethod
    def from_json(cls, text: str, *, exact: bool = False) -> RunResult:
        """The result of ``summary.json`` text; raises ValueError when it is not JSON."""
        return cls.from_dict(json.loads(text), exact=exact)

    def to_dict(self) -> dict[str, Any]:
        """The summary document: the keys the result was made with, in ``build_summary`` order."""
        return self.model_dump(mode="python", exclude_unset=True)

    def to_json(self) -> str:
        """``summary.json`` text: indented, NaN as null, non-ASCII as is."""
        return summary_json(self.to_dict())


__all__ = [
    "CacheEffect",
    "CacheKind",
    "CacheStatusFigures",
    "Generator",
    "GeneratorStall",
    "Goodput",
    "KindFigures",
    "Knee",
    "Measurements",
    "MemoryGrowth",
    "Num",
    "OtlpDelivery",
    "OtlpSignal",
    "Outage",
    "Percentiles",
    "Proxy",
    "Record",
    "RunInfo",
    "RunResult",
    "Server",
    "ServerSeries",
    "SessionTurn",
    "Sessions",
    "Spike",
    "SpikeSecond",
    "Stage",
    "Streaming",
    "TokenRates",
    "VerdictRecord",
    "Window",
    "json_safe",
    "summary_json",
]
