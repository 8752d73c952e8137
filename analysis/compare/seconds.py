"""One run's judged window second by second: what the comparison resamples and draws.

Samples are read part by part (``RunData.sample_source().chunks()``) and kept only as counts:
requests and errors per second, and response time (and TTFT of streamed requests) as counts per
(second, 0.1 % log bin), plus exact value→count histograms for the point estimates, so a run of
any length is read in bounded memory. A request belongs to the second of its intended send time
within the judged window (the window of ``edgeperf analyze``: the ramp is left out, an
interrupted run is cut where it stopped). Server series keep their points in the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.compare.bootstrap import bin_of
from analysis.measuring.client import US_PER_S, Window, failed_mask, judged_window
from analysis.measuring.interrupted import ran_window
from analysis.measuring.serverside import metric_points
from analysis.measuring.streaming import stream_kinds, streamed_mask
from analysis.measuring.tally import Histogram
from analysis.reading.errors import RunDirError
from analysis.reading.rundir import RunData

SERVER_METRICS = ("memory_bytes", "cpu_percent")
_KEY_BITS = 20  # key = second << 20 | bin; a bin index stays under 2**15 up to 1000 s
# The load's shape: what is offered, when. Concurrency cap, timeout, workers and placement are
# how the generator runs, not what it offers, and may differ between compared runs.
LOAD_SHAPE_KEYS = ("rate_rps", "arrival", "burstiness", "ramp", "duration", "stages")


class _PairCounts:
    """(second, bin) → count, accumulated block by block (the one mutable helper here)."""

    def __init__(self) -> None:
        self.keys: list[np.ndarray] = []

    def add(self, seconds: np.ndarray, values_us: np.ndarray) -> None:
        if len(values_us):
            self.keys.append((seconds.astype(np.int64) << _KEY_BITS) | bin_of(values_us))

    def result(self) -> SecondBins:
        if not self.keys:
            empty = np.empty(0, dtype=np.int64)
            return SecondBins(empty, empty, empty)
        keys, counts = np.unique(np.concatenate(self.keys), return_counts=True)
        return SecondBins(keys >> _KEY_BITS, keys & ((1 << _KEY_BITS) - 1), counts)


@dataclass(frozen=True)
class SecondBins:
    """Counts of values per (second, log bin): three aligned int64 arrays."""

    seconds: np.ndarray
    bins: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class Distribution:
    """A metric's values in the window: exact (distinct µs values, counts) and per second."""

    values_us: np.ndarray
    counts: np.ndarray
    per_second: SecondBins

    @property
    def count(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True)
class RunSeconds:
    """The judged window of one run, second by second."""

    run_dir: str
    name: str
    window: Window
    seconds_s: np.ndarray  # length of each second of the window (the last may be shorter)
    requests: np.ndarray  # int64 per second
    errors: np.ndarray  # int64 per second
    latency: Distribution
    ttft: Distribution
    # metric -> (second of each point, value), points of the window only
    server: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def seconds(self) -> int:
        return len(self.seconds_s)


def _distribution(histogram: Histogram, pairs: _PairCounts) -> Distribution:
    values, counts = histogram.distinct()
    return Distribution(values, counts, pairs.result())


def _window(run: RunData) -> Window:
    span = run.sample_source().span()
    ran = ran_window(run.metadata, span, judged_window(run.metadata, span))
    if ran.window is None:
        reason = ran.note or "it holds no request samples and no load window"
        raise RunDirError(run.run_dir, f"nothing to compare: {reason}")
    return ran.window


def read_seconds(run: RunData) -> RunSeconds:
    """The run's judged window per second; RunDirError when it has nothing to compare."""
    window = _window(run)
    n = max(1, math.ceil((window.end_us - window.start_us) / US_PER_S))
    starts = window.start_us + np.arange(n, dtype=np.int64) * US_PER_S
    seconds_s = (np.minimum(starts + US_PER_S, window.end_us) - starts) / US_PER_S
    requests = np.zeros(n, dtype=np.int64)
    errors = np.zeros(n, dtype=np.int64)
    latency, ttft = Histogram(), Histogram()
    latency_pairs, ttft_pairs = _PairCounts(), _PairCounts()
    kinds = stream_kinds(run.scenario)
    for block in run.sample_source().chunks():
        intended = block["intended_us"].to_numpy()
        mask = window.holds(intended)
        if not mask.any():
            continue
        second = (intended[mask] - window.start_us) // US_PER_S
        requests += np.bincount(second, minlength=n)
        errors += np.bincount(second[failed_mask(block)[mask]], minlength=n)
        response = block["response_us"].to_numpy()[mask]
        latency.add(response)
        latency_pairs.add(second, response)
        first = block["first_token_us"].to_numpy()[mask]
        has_token = streamed_mask(block, kinds)[mask] & (first >= 0)
        first_token = first[has_token] - intended[mask][has_token]
        ttft.add(first_token)
        ttft_pairs.add(second[has_token], first_token)
    if not requests.sum():
        raise RunDirError(
            run.run_dir, f"nothing to compare: no requests in its {window.duration_s:g} s window"
        )
    return RunSeconds(
        str(run.run_dir),
        run.name,
        window,
        seconds_s,
        requests,
        errors,
        _distribution(latency, latency_pairs),
        _distribution(ttft, ttft_pairs),
        _server_points(run.series, window, n),
    )


def _server_points(
    series: pd.DataFrame, window: Window, n: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for metric in SERVER_METRICS:
        points = metric_points(series, metric)
        t_us = points["timestamp_s"].to_numpy() * US_PER_S
        inside = window.holds(t_us)
        if inside.any():
            second = ((t_us[inside] - window.start_us) // US_PER_S).astype(np.int64)
            out[metric] = (np.minimum(second, n - 1), points["value"].to_numpy()[inside])
    return out


def scenario_identity(scenario: dict[str, Any]) -> dict[str, Any]:
    """What makes two runs the same experiment: the scenario's name and its load shape."""
    load = scenario.get("load") or {}
    shape = {k: load.get(k) for k in LOAD_SHAPE_KEYS if load.get(k) is not None}
    return {"name": scenario.get("name"), "load": shape}


__all__ = [
    "LOAD_SHAPE_KEYS",
    "SERVER_METRICS",
    "Distribution",
    "RunSeconds",
    "SecondBins",
    "read_seconds",
    "scenario_identity",
]
