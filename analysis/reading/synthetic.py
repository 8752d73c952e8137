"""Synthetic but realistic run directories, for fixtures, demos and the analysis benchmark.

The load is a linear ramp from 0 to ``rate_rps`` over ``ramp_s`` (not judged), then steady at
``rate_rps`` (judged) until ``rows`` requests have been scheduled. Server series are sampled every
5 s (finer for short runs). Everything is deterministic for a given ``seed``. With ``planned_s``
the metadata plans a longer steady window than the rows fill, as a run interrupted part-way
(``outcome="interrupted"``) records it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from analysis.contract.schema import (
    METADATA_FILE,
    QUERIES_FILE,
    SAMPLE_COLUMNS,
    SAMPLE_DEFAULTS,
    SAMPLES_DIR,
    SCENARIO_FILE,
    SERIES_FILE,
)

START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
WEEK1_TARGETS = {
    "request_rate_rps": "800..1200",
    "latency_p50_ms": "< 10",
    "latency_p95_ms": "< 50",
    "latency_p99_ms": "< 200",
    "error_rate": "< 1",
    "memory_bytes": "< 2GB",
    "cpu_percent": "< 200",
    "otlp_export_success": "> 99.9",
}
_MODELS = ("gpt-4o-mini", "claude-3-5-haiku", "llama-3.1-8b")
_NO_SESSION = ("session", "turn", "session_turns", "request_bytes")  # their defaults: no sessions
_ARROW = {
    "int64": pa.int64(),
    "int32": pa.int32(),
    "string": pa.string(),
    "list<int32>": pa.list_(pa.int32()),
}
_SCHEMA = pa.schema([(name, _ARROW[dtype]) for name, (dtype, _) in SAMPLE_COLUMNS.items()])
_QUERIES = {
    "memory_bytes": 'process_resident_memory_bytes{job="edge-agent"}',
    "cpu_percent": 'rate(process_cpu_seconds_total{job="edge-agent"}[15s]) * 100',
    "otlp_export_success": "100 * (1 - sum(rate(otelcol_exporter_send_failed_spans[1m]))"
    " / sum(rate(otelcol_exporter_sent_spans[1m])))",
}


@dataclass(frozen=True)
class SyntheticRun:
    """What to generate; ``model_names`` lets tests slip hostile strings in."""

    rows: int = 10_000
    rate_rps: float = 1000.0
    ramp_s: float = 2.0
    error_share: float = 0.002
    service_median_ms: float = 3.0
    part_rows: int = 250_000
    seed: int = 1
    series: bool = True
    model_names: tuple[str, ...] = _MODELS
    notes: tuple[str, ...] = ()
    outcome: str = "completed"
    planned_s: float | None = None  # a steady window longer than the rows fill: interrupted
    name: str = "synthetic"
    targets: tuple[tuple[str, str], ...] = tuple(WEEK1_TARGETS.items())
    # Richer runs (the defaults leave each out): streamed chat answers with tokens and timing
    # headers, connection set-up times, a generator pause every ``stall_every_s`` and an outage
    # (every request failing) over ``outage_s`` (seconds from the start).
    stream_share: float = 0.0
    stall_every_s: float | None = None
    outage_s: tuple[float, float] | None = None


def _intended_offsets_us(first: int, count: int, spec: SyntheticRun) -> np.ndarray:
    """Schedule times (µs after start) of requests ``first``..``first+count``."""
    index = np.arange(first, first + count, dtype=np.float64)
    ramp_rows = spec.rate_rps * spec.ramp_s / 2.0
    in_ramp = index < ramp_rows
    t_s = np.where(
        in_ramp,
        np.sqrt(2.0 * spec.ramp_s * np.minimum(index, ramp_rows) / spec.rate_rps),
        spec.ramp_s + (index - ramp_rows) / spec.rate_rps,
    )
    return np.round(t_s * 1e6).astype(np.int64)


def _part(first: int, count: int, spec: SyntheticRun) -> pa.Table:
    rng = np.random.default_rng([spec.seed, first])
    intended = START_US + _intended_offsets_us(first, count, spec)
    sent = intended + rng.exponential(40.0, count).astype(np.int64)
    service = np.maximum(rng.lognormal(math.log(spec.service_median_ms * 1000), 0.4, count), 50)
    failed = rng.random(count) < spec.error_share
    service = np.where(failed, 10_000_000, service).astype(np.int64)
    done = sent + service
    chat = rng.random(count) < 0.95
    models = np.array(spec.model_names, dtype=object)[rng.integers(0, len(spec.model_names), count)]
    hit = rng.random(count) < 0.6
    columns: dict[str, np.ndarray | pa.ListArray] = {
        "first_token_us": np.full(count, -1, dtype=np.int64),
        "last_token_us": np.full(count, -1, dtype=np.int64),
        "tokens": np.zeros(count, dtype=np.int32),
        "upstream_us": np.full(count, -1, dtype=np.int64),
        "overhead_us": np.full(count, -1, dtype=np.int64),
        "connect_us": np.full(count, -1, dtype=np.int64),
        **{name: np.full(count, SAMPLE_DEFAULTS[name]) for name in _NO_SESSION},
        "prompt_tokens": np.full(count, -1, dtype=np.int32),
        "completion_tokens": np.full(count, -1, dtype=np.int32),
        "cached_tokens": np.full(count, -1, dtype=np.int32),
        "chunk_gaps_us": _gap_lists(np.zeros(count, dtype=np.int64), np.zeros(count, np.int64)),
    }
    error = np.where(failed, "timeout", "")
    if spec.stream_share or spec.stall_every_s or spec.outage_s:
        sent, done, error, columns = _richer(rng, intended, sent, done, failed, chat, spec)
        failed = error != ""
    return pa.table(
        {
            "intended_us": intended,
            "sent_us": sent,
            "ttfb_us": np.where(failed, -1, done - 100),
            "done_us": done,
            "status": np.where(failed, 0, 200).astype(np.int32),
            "kind": np.where(chat, "chat", "health"),
            "model": np.where(chat, models, ""),
            "error": error,
            "bytes": np.where(failed, 0, np.where(chat, 620, 15)).astype(np.int64),
            "cache": np.where(failed | ~chat, "", np.where(hit, "HIT", "MISS")),
            "worker": (np.arange(first, first + count) % 2).astype(np.int32),
            **columns,
        },
        schema=_SCHEMA,
    )


def _richer(
    rng: np.random.Generator,
    intended: np.ndarray,
    sent: np.ndarray,
    done: np.ndarray,
    failed: np.ndarray,
    chat: np.ndarray,
    spec: SyntheticRun,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray | pa.ListArray]]:
    """Streams, timing headers and connection set-up; stalls and an outage where asked."""
    count = len(intended)
    t_s = (intended - START_US) / 1e6
    if spec.stall_every_s:  # requests due in the first 50 ms of each period leave late together
        into_s = np.mod(t_s, spec.stall_every_s)
        paused = (t_s > spec.stall_every_s) & (into_s < 0.05)
        late = np.round((0.05 - into_s) * 1e6).astype(np.int64) + 1000
        sent = np.where(paused, intended + late, sent)
    error = np.where(failed, "timeout", "").astype(object)
    if spec.outage_s:
        down = (t_s >= spec.outage_s[0]) & (t_s < spec.outage_s[1])
        error = np.where(down, np.where(rng.random(count) < 0.7, "HTTP 503", "refused"), error)
    service = np.maximum(rng.lognormal(math.log(3000.0), 0.5, count), 80).astype(np.int64)
    done = np.where(error == "timeout", done, sent + service)
    streamed = chat & (rng.random(count) < spec.stream_share) & (error == "")
    tokens = np.where(streamed, rng.integers(1, 64, count), 0).astype(np.int32)
    first_token = sent + np.maximum(service // 3, 50)
    gap = rng.integers(200, 3000, count)
    columns = {
        "first_token_us": np.where(streamed, first_token, -1),
        "last_token_us": np.where(streamed, first_token + gap * np.maximum(tokens - 1, 0), -1),
        "tokens": tokens,
        "upstream_us": np.where(chat & (error == ""), service * 4 // 5, -1),
        "overhead_us": np.where(chat & (error == ""), rng.integers(100, 900, count), -1),
        "connect_us": np.where(rng.random(count) < 0.01, rng.integers(80, 2000, count), -1),
        **{name: np.full(count, SAMPLE_DEFAULTS[name]) for name in _NO_SESSION},
        # The server's counts for streams (no draws of their own, so the other columns stay as
        # they were): one token a chunk, as the stand-in streams them.
        "prompt_tokens": np.where(streamed, 10 + (intended // 7) % 190, -1),
        "completion_tokens": np.where(streamed, tokens, -1),
        "cached_tokens": np.where(streamed, 0, -1),
        "chunk_gaps_us": _gap_lists(np.maximum(tokens.astype(np.int64) - 1, 0), gap),
    }
    done = np.where(streamed, np.maximum(done, columns["last_token_us"] + 100), done)
    incomplete = streamed & (rng.random(count) < 0.01)
    error = np.where(incomplete, "stream incomplete", error)
    return sent, done, error.astype(str), columns


def _gap_lists(gaps: np.ndarray, gap_us: np.ndarray) -> pa.ListArray:
    """One list a row: ``gaps[i]`` times ``gap_us[i]`` (a steady stream's chunk gaps)."""
    offsets = np.concatenate([[0], np.cumsum(gaps)]).astype(np.int32)
    values = np.repeat(np.asarray(gap_us, dtype=np.int32), gaps)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.int32()))


def _step_s(start_us: int, end_us: int) -> float:
    """Prometheus-like 5 s steps, finer for short runs so the steady window has points."""
    return max(0.5, min(5.0, (end_us - start_us) / 1e6 / 20))


def _series(start_us: int, end_us: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    ts = np.arange(start_us / 1e6, end_us / 1e6 + 1e-9, _step_s(start_us, end_us))
    n = len(ts)
    columns: dict[str, list[Any]] = {k: [] for k in ("timestamp_s", "metric", "source", "labels")}
    values: list[np.ndarray] = []
    for metric, base, noise in (
        ("memory_bytes", 150e6, 2e6),
        ("cpu_percent", 60.0, 8.0),
        ("otlp_export_success", 99.99, 0.005),
    ):
        columns["timestamp_s"] += list(ts)
        columns["metric"] += [metric] * n
        columns["source"] += ["prometheus"] * n
        columns["labels"] += ['{"job":"edge-agent"}'] * n
        values.append(np.clip(base + rng.normal(0, noise, n), 0, 100 if "otlp" in metric else None))
    return pa.table({**columns, "value": np.concatenate(values)})


def write_synthetic_run(run_dir: Path, spec: SyntheticRun = SyntheticRun()) -> Path:
    """Write a complete run directory (scenario, metadata, samples, series) into ``run_dir``."""
    samples_dir = run_dir / SAMPLES_DIR
    samples_dir.mkdir(parents=True, exist_ok=True)
    for part, first in enumerate(range(0, spec.rows, spec.part_rows)):
        table = _part(first, min(spec.part_rows, spec.rows - first), spec)
        pq.write_table(table, samples_dir / f"part-{part:05d}.parquet")
    ramp_end = START_US + round(spec.ramp_s * 1e6)
    end = START_US + int(_intended_offsets_us(spec.rows - 1, 1, spec)[0]) + 1
    end = ran_end = max(end, ramp_end + 1)
    if spec.planned_s is not None:  # metadata keeps the plan; samples and series what ran
        end = ramp_end + round(spec.planned_s * 1e6)
    rate = spec.rate_rps
    stages = [
        {
            "start_us": START_US,
            "end_us": ramp_end,
            "start_rps": 0.0,
            "end_rps": rate,
            "judge": False,
        },
        {"start_us": ramp_end, "end_us": end, "start_rps": rate, "end_rps": rate, "judge": True},
    ]
    metadata = {
        "harness_version": "synthetic",
        "git_sha": None,
        "host": "synthetic",
        "target": "http://127.0.0.1:8080",
        "embedded": True,
        "prometheus_url": "http://127.0.0.1:9090" if spec.series else None,
        "started_utc": "2026-01-01T00:00:00.000+00:00",
        "ended_utc": None,
        "outcome": spec.outcome,
        "load": {
            "start_us": START_US,
            "end_us": end,
            "judge_start_us": ramp_end,
            "judge_end_us": end,
            "rate_rps": spec.rate_rps,
            "arrival": "uniform",
            "workers": 2,
            "stages": stages,
            "rows": spec.rows,
        },
        "generator": {"cpu_s": 1.0, "wall_s": (ran_end - START_US) / 1e6, "max_concurrency": 1000},
        "notes": list(spec.notes),
    }
    (run_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    scenario: dict[str, Any] = {
        "name": spec.name,
        "load": {"rate_rps": spec.rate_rps, "ramp": f"{spec.ramp_s:g}s"},
        "targets": dict(spec.targets),
    }
    if spec.stream_share:
        scenario["requests"] = [{"kind": "chat", "chat": {"stream": True}}, {"kind": "health"}]
    (run_dir / SCENARIO_FILE).write_text(
        yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8"
    )
    if spec.series:
        (run_dir / SERIES_FILE).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(_series(START_US, ran_end, spec.seed), run_dir / SERIES_FILE)
        queries = [
            {"metric": m, "source": "prometheus", "query": q, "start": START_US / 1e6,
             "end": ran_end / 1e6, "step_s": _step_s(START_US, ran_end), "status": "ok",
             "error": None, "points": 1}
            for m, q in _QUERIES.items()
        ]  # fmt: skip
        (run_dir / QUERIES_FILE).write_text(json.dumps(queries, indent=2), encoding="utf-8")
    return run_dir


__all__ = ["START_US", "WEEK1_TARGETS", "SyntheticRun", "write_synthetic_run"]
