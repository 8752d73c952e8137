"""The typed run result: ``summary.json`` as a model, written from it and read back into it.

``RunResult`` mirrors what ``analysis.judging.summary.build_summary`` produces (see
docs/run-directory.md): the status, the verdicts, the measurements with one nested model per
group the reports read (latency, server, generator, streaming, goodput, proxy, cache effect,
stages, spike, knee, memory growth, outages, generator stalls, ...), the warnings and the run's
facts. The base record is in ``record``; the LLM-serving and shape groups in ``llm_records`` and
``shape_records``.

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

from pydantic import Field

from analysis.judging.llm_records import (
    CacheEffect,
    CacheKind,
    CacheStatusFigures,
    Goodput,
    Proxy,
    Replay,
    Sessions,
    SessionTurn,
    Streaming,
    TokenRates,
    Usage,
)
from analysis.judging.record import Num, Percentiles, Record
from analysis.judging.shape_records import Knee, MemoryGrowth, Spike, SpikeSecond, Stage


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
    "Replay",
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
    "Usage",
    "VerdictRecord",
    "Window",
    "json_safe",
    "summary_json",
]
