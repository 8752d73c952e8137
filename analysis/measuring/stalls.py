"""Generator stalls: episodes in which the generator itself paused and requests left late together.

Latency runs from the intended send time (coordinated omission), so a pause of the generator is
charged to the target like a pause of the target. The three leave different marks:

- the generator paused: the requests due during the pause leave late together (send lag =
  sent − intended), although its process had fewer requests in flight than its share of the
  concurrency cap; the answer of a request in flight is read late, so its service time grows by
  about the pause too (the corroboration, ``held_in_flight``);
- the target paused: requests leave on time (low lag) and answers come late (service time);
- the target was too slow for the cap: requests wait for a free slot (high lag), but the cap was
  full when they were due.

The rule, per generator process (``worker``), requests ordered by intended time: a request is
*late* when its send lag exceeds ``LAG_THRESHOLD_US``. Consecutive late requests form a run; a run
whose first request found the process's share of the cap (``ceil(max_concurrency / processes)``)
full when it was due is a queue for the cap, the target's doing, and is dropped (the requests
behind it queue for the cap too). The other runs are stalls; stalls less than the threshold apart
merge into one episode. An episode starts at the intended time of
its first late request and ends when its last late request left; its duration is its largest send
lag (about the pause). It delayed the requests of its process scheduled from its start to its end
and those in flight across it (sent before its start, answered after its midpoint).

What a stall can have added to a request is bounded, and only that much is taken out of the
latency "without stalls": a request due during it counts from when it left (its send lag is the
pause's), one in flight across it loses at most the pause's length. A target that held its
answers for 200 ms while a 12 ms pause of the generator fell inside that time keeps 188 ms of
them: the pause did not decide them.

10 ms is 100 to 500 times the usual send lag (0.02–0.1 ms) and far below a latency target worth
judging; a shorter pause can add at most that much to any request. With a cap at or below the
requests in flight during a pause (a cap of 1), a pause cannot be told from a full cap: the late
requests are then not called a stall.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.measuring.client import (
    US_PER_MS,
    US_PER_S,
    Percentiles,
    Window,
    percentiles_ms,
)
from analysis.measuring.tally import Tally
from analysis.reading.samples import FrameSamples, Samples

LAG_THRESHOLD_US = 10_000
CPU_BOUND_SHARE = 0.9  # of one core, over the run: the process had no time to spare
MAX_LISTED = 50  # episodes listed in summary.json (the longest); the count has them all
UNKNOWN_CAUSE = "unknown"


@dataclass(frozen=True)
class StallEpisode:
    """One pause of one generator process; times in epoch µs."""

    worker: int
    start_us: int  # intended time of its first late request
    end_us: int  # when its last late request left
    max_lag_us: int  # its largest send lag: about how long the generator paused
    requests: int  # scheduled from its start to its end (they left late, or just on time)
    held_in_flight: int  # in flight across it: answers read late, service time inflated
    held_max_service_us: int  # the largest service time among those (-1: none held)
    cause: str = UNKNOWN_CAUSE

    def describe(self, origin_us: int) -> str:
        held = (
            f"; {self.held_in_flight} answer(s) in flight were read up to "
            f"{self.held_max_service_us / US_PER_MS:.0f} ms after they were sent"
            if self.held_in_flight
            else ""
        )
        return (
            f"generator stall at {(self.start_us - origin_us) / US_PER_S:.2f} s (worker "
            f"{self.worker}): it paused about {self.max_lag_us / US_PER_MS:.0f} ms and the "
            f"{self.requests:,} requests due then left late{held}; likely cause: {self.cause}. "
            "That latency is the harness's own, not the target's"
        )


@dataclass(frozen=True, eq=False)
class Stalls:
    """Every stall of a run, which sample rows they delayed (``delayed``, row order) and by how
    much at most (``credit_us``: the µs a stall can have added to that row's latency)."""

    episodes: tuple[StallEpisode, ...]
    delayed: np.ndarray
    cap_per_worker: int | None = None
    credit_us: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class StallAttribution:
    """The judged window's latency with what the stalls can have added taken out."""

    without: Percentiles = field(default_factory=Percentiles)
    delayed: int = 0  # requests of the window a stall delayed
    episodes: int = 0  # stalls that delayed at least one of them


def _cap_per_worker(metadata: dict[str, Any]) -> int | None:
    generator = metadata.get("generator") or {}
    cap = generator.get("max_concurrency")
    if not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0:
        return None
    workers = generator.get("workers")
    count = max(int((metadata.get("load") or {}).get("workers") or 1), 1)
    if isinstance(workers, list):
        count = max(count, len(workers))
    return -(-cap // count)


def _cause(metadata: dict[str, Any], worker: int) -> str:
    """CPU-bound when the process used nearly a whole core over the run; else unknown."""
    generator = metadata.get("generator") or {}
    workers = [w for w in generator.get("workers") or [] if isinstance(w, dict)]
    own = next((w for w in workers if w.get("worker", 0) == worker), None)
    figures = own if own is not None else generator if len(workers) <= 1 else {}
    cpu_s, wall_s = figures.get("cpu_s"), figures.get("wall_s")
    if not isinstance(cpu_s, int | float) or not isinstance(wall_s, int | float) or wall_s <= 0:
        return UNKNOWN_CAUSE
    share = cpu_s / wall_s
    if share < CPU_BOUND_SHARE:
        return UNKNOWN_CAUSE
    return f"generator CPU-bound (worker {worker} used {share:.0%} of a core)"


class LateRuns:
    """Runs of consecutive late requests of each process; blocks arrive in intended order.

    A run is [first position, last position, first intended, last sent, largest lag] with
    positions counted in its process's intended order; a run still open at the end of a block
    carries on, so memory is the runs, not the requests.
    """

    def __init__(self, threshold_us: int = LAG_THRESHOLD_US) -> None:
        self.threshold_us = threshold_us
        self.seen: dict[int, int] = {}
        self.runs: dict[int, list[list[int]]] = {}

    def add(self, ordered: pd.DataFrame) -> None:
        workers = ordered["worker"].to_numpy()
        lag = ordered["sent_us"].to_numpy() - ordered["intended_us"].to_numpy()
        for worker in np.unique(workers):
            rows = np.flatnonzero(workers == worker)
            offset = self.seen.get(int(worker), 0)
            self.seen[int(worker)] = offset + len(rows)
            late = np.flatnonzero(lag[rows] > self.threshold_us)
            if not len(late):
                continue
            intended = ordered["intended_us"].to_numpy()[rows[late]]
            sent = ordered["sent_us"].to_numpy()[rows[late]]
            runs = self.runs.setdefault(int(worker), [])
            for group in np.split(np.arange(len(late)), np.flatnonzero(np.diff(late) > 1) + 1):
                first, last = offset + int(late[group[0]]), offset + int(late[group[-1]])
                end, worst = int(sent[group].max()), int(lag[rows[late[group]]].max())
                if runs and runs[-1][1] == first - 1:  # the run the last block ended in
                    runs[-1][1], runs[-1][3] = last, max(runs[-1][3], end)
                    runs[-1][4] = max(runs[-1][4], worst)
                else:
                    runs.append([first, last, int(intended[group[0]]), end, worst])


def _in_flight(source: Samples, queries: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Per process, requests sent but not answered at each query time (sent <= t < done)."""
    counts = {w: np.zeros(len(t), dtype=np.int64) for w, t in queries.items()}
    for chunk in source.chunks():
        workers = chunk["worker"].to_numpy()
        for worker, times in queries.items():
            rows = workers == worker
            sent, done = (np.sort(chunk[c].to_numpy()[rows]) for c in ("sent_us", "done_us"))
            counts[worker] += np.searchsorted(sent, times, "right")
            counts[worker] -= np.searchsorted(done, times, "right")
    return counts


def _episodes(runs: list[list[int]], threshold_us: int) -> list[list[int]]:
    """[start_us, end_us, max_lag_us] of each episode: runs less than the threshold apart merge."""
    episodes: list[list[int]] = []
    for _, _, start, end, worst in runs:
        if episodes and start - episodes[-1][1] < threshold_us:
            last = episodes[-1]
            last[1], last[2] = max(last[1], end), max(last[2], worst)
        else:
            episodes.append([start, end, worst])
    return episodes


Bounds = dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]  # worker -> starts, ends, lags


def _delayed(
    chunk: pd.DataFrame, episodes: Bounds, t: Tally | None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``chunk`` a stall delayed, and the µs it can have added to each: a row due in an
    episode its own send lag, a row held in flight across one at most the episode's length.
    Per-episode counts go to ``t`` when given."""
    delayed = np.zeros(len(chunk), dtype=bool)
    credit = np.zeros(len(chunk), dtype=np.int64)
    workers = chunk["worker"].to_numpy()
    for worker, (starts, ends, lags) in episodes.items():
        rows = np.flatnonzero(workers == worker)
        intended, sent, done = (
            chunk[c].to_numpy()[rows] for c in ("intended_us", "sent_us", "done_us")
        )
        # Scheduled during an episode: intended in [start, end] of the episode before it.
        k = np.searchsorted(starts, intended, "right") - 1
        scheduled = (k >= 0) & (intended <= ends[np.maximum(k, 0)])
        # Held in flight: sent before the next episode's start, answered after its midpoint.
        h = np.searchsorted(starts, sent, "right")
        nxt = np.minimum(h, len(starts) - 1)
        held = (h < len(starts)) & (done >= starts[nxt] + lags[nxt] // 2) & ~scheduled
        delayed[rows[scheduled | held]] = True
        credit[rows[scheduled]] = (sent - intended)[scheduled]
        credit[rows[held]] = np.minimum(lags[nxt][held], (done - sent)[held])
        if t is not None:
            for i, n in enumerate(np.bincount(k[scheduled], minlength=len(starts))):
                t.add(f"stall:{worker}:{i}", int(n))
            for i, n in enumerate(np.bincount(h[held], minlength=len(starts))):
                t.add(f"held:{worker}:{i}", int(n))
            service = np.full(len(starts), -1, dtype=np.int64)
            np.maximum.at(service, h[held], (done - sent)[held])
            for i, longest in enumerate(service):
                key = f"held_service:{worker}:{i}"
                t.counts[key] = max(t.counts.get(key, -1), int(longest))
    return delayed, credit


def stalls_of(
    source: Samples, late: LateRuns, metadata: dict[str, Any], window: Window | None, t: Tally
) -> tuple[Stalls, StallAttribution]:
    """The stalls the runs of ``late`` make, and the window's latency with what they can have
    added taken out (``t`` holds the client tally of the same samples, for a run without stalls)."""
    cap = _cap_per_worker(metadata)
    runs = {w: r for w, r in late.runs.items() if r}
    if cap is not None and runs:
        queries = {w: np.array([r[2] for r in rs], dtype=np.int64) for w, rs in runs.items()}
        flight = _in_flight(source, queries)
        # A queue that began at a full cap is the target's, however long it then grew: what
        # is due behind it waits for the cap too, whatever the count in flight at that instant.
        runs = {
            w: [r for r, n in zip(rs, flight[w], strict=True) if n < cap] for w, rs in runs.items()
        }
    merged = {
        w: np.array(_episodes(rs, late.threshold_us), dtype=np.int64)
        for w, rs in runs.items()
        if rs
    }
    bounds: Bounds = {w: (e[:, 0], e[:, 1], e[:, 2]) for w, e in merged.items()}
    if not bounds:
        return Stalls((), np.zeros(0, dtype=bool), cap), _attribution(t, window, (), 0)
    counts = Tally()
    clean = Tally()
    for chunk in source.chunks():
        delayed, credit = _delayed(chunk, bounds, counts)
        if window is not None:
            intended = chunk["intended_us"].to_numpy()
            inside = window.holds(intended)
            response = chunk["done_us"].to_numpy() - intended - credit
            clean.values("response", response[inside])
            clean.add("delayed", int((inside & delayed).sum()))
    episodes = [
        StallEpisode(w, int(starts[i]), int(ends[i]), int(lags[i]), counts.counts[f"stall:{w}:{i}"],
                     counts.counts[f"held:{w}:{i}"], counts.counts.get(f"held_service:{w}:{i}", -1),
                     _cause(metadata, w))
        for w, (starts, ends, lags) in bounds.items()
        for i in range(len(starts))
    ]  # fmt: skip
    episodes.sort(key=lambda e: (e.start_us, e.worker))
    stalls = Stalls(tuple(episodes), np.zeros(0, dtype=bool), cap)
    return stalls, _attribution(clean, window, stalls.episodes, clean.counts["delayed"])


def _attribution(
    t: Tally, window: Window | None, episodes: tuple[StallEpisode, ...], delayed: int
) -> StallAttribution:
    if window is None or not t.has("response"):
        return StallAttribution(t.percentiles_ms("response") if window is None else Percentiles())
    touching = [e for e in episodes if e.start_us < window.end_us and e.end_us >= window.start_us]
    return StallAttribution(t.percentiles_ms("response"), delayed, len(touching))


def find_stalls(
    samples: pd.DataFrame, metadata: dict[str, Any], threshold_us: int = LAG_THRESHOLD_US
) -> Stalls:
    """The generator stalls of a run (see the module's rule) and the rows each one delayed."""
    late = LateRuns(threshold_us)
    late.add(samples.sort_values("intended_us", kind="stable"))
    stalls, _ = stalls_of(FrameSamples(samples), late, metadata, None, Tally())
    delayed, credit = _delayed(samples, _bounds(stalls), None)
    return replace(stalls, delayed=delayed, credit_us=credit)


def _bounds(stalls: Stalls) -> Bounds:
    out: Bounds = {}
    for worker in sorted({e.worker for e in stalls.episodes}):
        mine = sorted((e for e in stalls.episodes if e.worker == worker), key=lambda e: e.start_us)
        starts, ends, lags = (np.array([getattr(e, a) for e in mine], dtype=np.int64)
                              for a in ("start_us", "end_us", "max_lag_us"))  # fmt: skip
        out[worker] = (starts, ends, lags)
    return out


def attribute(samples: pd.DataFrame, window: Window | None, stalls: Stalls) -> StallAttribution:
    """Response-time percentiles of the window's requests with what the stalls can have added
    to each taken out."""
    if window is None or not len(samples):
        return StallAttribution(percentiles_ms(np.empty(0, dtype=np.int64)))
    intended = samples["intended_us"].to_numpy()
    in_window = window.holds(intended)
    response = samples["response_us"].to_numpy()
    if len(stalls.credit_us):
        response = response - stalls.credit_us
    touching = [
        e for e in stalls.episodes if e.start_us < window.end_us and e.end_us >= window.start_us
    ]
    return StallAttribution(
        without=percentiles_ms(np.sort(response[in_window])),
        delayed=int((in_window & stalls.delayed).sum()),
        episodes=len(touching),
    )


def _episode_dict(episode: StallEpisode, origin_us: int) -> dict[str, Any]:
    return {
        "start_s": round((episode.start_us - origin_us) / US_PER_S, 3),
        "end_s": round((episode.end_us - origin_us) / US_PER_S, 3),
        "duration_ms": episode.max_lag_us / US_PER_MS,
        "requests": episode.requests,
        "held_in_flight": episode.held_in_flight,
        "held_max_service_ms": episode.held_max_service_us / US_PER_MS
        if episode.held_in_flight
        else None,
        "worker": episode.worker,
        "cause": episode.cause,
    }


def stall_summary(stalls: Stalls, attribution: StallAttribution, origin_us: int) -> dict[str, Any]:
    """The ``summary.json`` measurements of the stalls; the longest ``MAX_LISTED`` are listed."""
    listed = sorted(stalls.episodes, key=lambda e: -e.max_lag_us)[:MAX_LISTED]
    listed.sort(key=lambda e: (e.start_us, e.worker))
    return {
        "generator_stall_count": len(stalls.episodes),
        "generator_stalls": [_episode_dict(e, origin_us) for e in listed],
        "stall_delayed_requests": attribution.delayed,
        "latency_without_stalls_ms": attribution.without.as_dict(),
    }


def stall_warnings(stalls: Stalls, origin_us: int, shown: int = 5) -> list[str]:
    """One line a stall (the longest ``shown``), and how many more there were."""
    longest = sorted(stalls.episodes, key=lambda e: -e.max_lag_us)[:shown]
    lines = [e.describe(origin_us) for e in sorted(longest, key=lambda e: e.start_us)]
    more = len(stalls.episodes) - len(longest)
    if more:
        lines.append(f"and {more:,} shorter generator stall(s) (see measurements.generator_stalls)")
    return lines


def stall_bands_s(stalls: Stalls, origin_us: int) -> list[tuple[float, float]]:
    """(start, end) of each stall in seconds from ``origin_us``, for the latency chart."""
    return [
        ((e.start_us - origin_us) / US_PER_S, (e.start_us + e.max_lag_us - origin_us) / US_PER_S)
        for e in stalls.episodes
    ]


__all__ = [
    "CPU_BOUND_SHARE",
    "LAG_THRESHOLD_US",
    "MAX_LISTED",
    "StallAttribution",
    "StallEpisode",
    "LateRuns",
    "Stalls",
    "attribute",
    "find_stalls",
    "stall_bands_s",
    "stall_summary",
    "stall_warnings",
    "stalls_of",
]
