"""Trace replay settings and the timeline they make: which rows are sent, and when.

Trace time t of a row is its timestamp minus the first row's. The window keeps rows with
``start_s <= t < end_s`` (no end: to the last row). One pass lasts ``end_s - start_s``, or without
an end the window's span plus one mean gap, so that passes laid end to end (``loop``) keep the
trace's rate. Arrival k of pass p (0-based) is due at ``(p * pass_s + t_k - start_s) / speedup``
seconds after the schedule start; ``rate_rps`` instead of ``speedup`` picks the speed-up that makes
the mean rate of a pass that rate. Rows with a zero input or output length cannot be sent as a
chat completion (an empty prompt, ``max_tokens`` 0) and are skipped, counted as invalid.

Arrival i of the timeline goes to worker ``i % worker_count``, so the workers' shares are
disjoint and together are the whole timeline.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from loadtests.config.tracefiles import Trace, TraceFileError, read_trace

US_PER_S = 1_000_000


class TraceSpec(BaseModel):
    """``load.trace``: a trace file replayed instead of a rate (see docs/traces.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(min_length=1)
    format: Literal["auto", "mooncake", "azure"] = "auto"
    speedup: float | None = Field(default=None, gt=0, le=1_000_000)
    rate_rps: float | None = Field(default=None, gt=0, le=1_000_000)
    start_s: float = Field(default=0.0, ge=0)
    end_s: float | None = Field(default=None, gt=0)
    loop: int = Field(default=1, ge=1, le=10_000)
    # The request kind whose path, models and stream setting each row uses; default: the first
    # kind with a chat section.
    kind: str | None = None
    block_tokens: int = Field(default=512, ge=1, le=1_000_000)  # tokens a hash_ids entry stands for

    @field_validator("file")
    @classmethod
    def _absolute(cls, value: str) -> str:
        # Absolute, so that every generator process reads the same file.
        return str(Path(value).expanduser().resolve())

    @model_validator(mode="after")
    def _one_speed(self) -> TraceSpec:
        if self.speedup is not None and self.rate_rps is not None:
            raise ValueError("give speedup or rate_rps, not both")
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s:g}) must be after start_s ({self.start_s:g})")
        return self


@dataclass(frozen=True, eq=False)
class Timeline:
    """Every arrival of a replay: its offset from the schedule start and its trace row."""

    trace: Trace
    offsets_us: np.ndarray  # int64, ascending
    rows: np.ndarray  # int64 index into the trace, one per arrival
    speedup: float
    passes: int
    pass_s: float  # one pass in trace seconds (before the speed-up)
    outside_window: int  # rows of the file outside the window (each pass)
    invalid: int  # rows of the window skipped for a zero length (each pass)

    @property
    def duration_s(self) -> float:
        return self.passes * self.pass_s / self.speedup

    @property
    def mean_rps(self) -> float:
        return len(self.offsets_us) / self.duration_s

    def share(self, worker_index: int, worker_count: int) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, rows) of one worker: arrivals worker_index, +worker_count, +2·worker_count…"""
        return (
            self.offsets_us[worker_index::worker_count],
            self.rows[worker_index::worker_count],
        )

    def summary(self) -> dict[str, Any]:
        """The replay's plan for metadata.json (``load.trace``): what fidelity is measured on."""
        return {
            "file": self.trace.path,
            "format": self.trace.format,
            "rows_in_file": len(self.trace),
            "speedup": self.speedup,
            "passes": self.passes,
            "pass_s": self.pass_s,
            "duration_s": self.duration_s,
            "mean_rps": self.mean_rps,
            "rows_scheduled": len(self.offsets_us),
            "rows_outside_window": self.outside_window * self.passes,
            "rows_invalid": self.invalid * self.passes,
        }


def build_timeline(trace: Trace, spec: TraceSpec) -> Timeline:
    """The arrivals of ``trace`` replayed by ``spec``; raise TraceFileError for an empty window."""
    times = trace.times_us
    start_us = round(spec.start_s * US_PER_S)
    end_us = None if spec.end_s is None else round(spec.end_s * US_PER_S)
    inside = times >= start_us
    if end_us is not None:
        inside &= times < end_us
    valid = inside & (trace.input_tokens > 0) & (trace.output_tokens > 0)
    rows = np.flatnonzero(valid)
    span_s = float(times[-1]) / US_PER_S
    if not len(rows):
        window = f"[{spec.start_s:g}, {'end' if spec.end_s is None else f'{spec.end_s:g}'}) s"
        why = "no rows" if not inside.any() else "only rows with a zero length"
        raise TraceFileError(
            f"trace file {trace.path}: {why} in the window {window}; the trace spans "
            f"0..{span_s:g} s, set load.trace.start_s and end_s inside it"
        )
    if end_us is not None:
        pass_s = (end_us - start_us) / US_PER_S
    else:
        kept = times[inside]
        spread_s = float(kept[-1] - kept[0]) / US_PER_S
        gap_s = spread_s / (len(kept) - 1) if len(kept) > 1 and spread_s > 0 else 1.0
        pass_s = float(kept[-1] - start_us) / US_PER_S + gap_s
    speedup = spec.speedup or 1.0
    if spec.rate_rps is not None:
        speedup = spec.rate_rps * pass_s / len(rows)
    one_pass = (times[rows] - start_us).astype(np.float64)
    passes = np.arange(spec.loop, dtype=np.float64)[:, None] * (pass_s * US_PER_S)
    offsets = np.rint((passes + one_pass[None, :]).ravel() / speedup).astype(np.int64)
    return Timeline(
        trace=trace,
        offsets_us=offsets,
        rows=np.tile(rows, spec.loop),
        speedup=speedup,
        passes=spec.loop,
        pass_s=pass_s,
        outside_window=int((~inside).sum()),
        invalid=int((inside & ~valid).sum()),
    )


@functools.lru_cache(maxsize=4)
def _cached(spec: TraceSpec, mtime_ns: int, size: int) -> Timeline:
    return build_timeline(read_trace(spec.file, spec.format), spec)


def timeline_for(spec: TraceSpec) -> Timeline:
    """The timeline of ``spec``, read once per process while the file is unchanged."""
    try:
        stat = os.stat(spec.file)
    except OSError as exc:
        reason = "not found" if isinstance(exc, FileNotFoundError) else f"cannot be read ({exc})"
        raise TraceFileError(f"trace file {spec.file}: {reason}") from None
    return _cached(spec, stat.st_mtime_ns, stat.st_size)


__all__ = ["Timeline", "TraceSpec", "build_timeline", "timeline_for"]
