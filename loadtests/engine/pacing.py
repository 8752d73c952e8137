"""Open-model arrival schedules: when each request should leave, independent of responses.

The schedule works in *operational time*: the expected number of arrivals so far, Λ(t), the
integral of the stage rates. Arrival k sits at operational time u_k and leaves at Λ⁻¹(u_k). Uniform
arrivals put u_k on the integers; Poisson and gamma arrivals draw the gaps in u from a gamma
distribution of mean 1 (shape 1/burstiness; burstiness 1 is Poisson), which makes a
non-homogeneous renewal process that follows ramps and steps exactly on average.

With W workers, worker i takes u = i, i+W, i+2W, ... of the uniform schedule (so their union is
the single-process schedule), or an independent stochastic stream of 1/W of the rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

US_PER_S = 1_000_000
_BATCH = 4096


@dataclass(frozen=True)
class StageSpan:
    """One stretch of the schedule in seconds from its start; the rate moves linearly."""

    start_s: float
    duration_s: float
    start_rps: float
    end_rps: float
    judge: bool = True

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def expected(self) -> float:
        """Expected arrivals in this stage (its area under the rate)."""
        return 0.5 * (self.start_rps + self.end_rps) * self.duration_s

    def time_at(self, count: float) -> float:
        """Seconds into the stage at which ``count`` (0..expected) arrivals are due."""
        if count <= 0:
            return 0.0
        a, b, length = self.start_rps, self.end_rps, self.duration_s
        slope = (b - a) / length
        # Root of slope/2 t^2 + a t - count = 0, in the form that is stable when slope ~ 0.
        disc = a * a + 2.0 * slope * count
        return 2.0 * count / (a + math.sqrt(max(disc, 0.0)))


def spans_from_stages(stages: list[tuple[float, float, float, bool]]) -> tuple[StageSpan, ...]:
    """Build spans from (duration_s, start_rps, end_rps, judge) tuples laid end to end."""
    spans: list[StageSpan] = []
    start = 0.0
    for duration_s, start_rps, end_rps, judge in stages:
        spans.append(StageSpan(start, duration_s, start_rps, end_rps, judge))
        start += duration_s
    return tuple(spans)


@dataclass(frozen=True)
class Schedule:
    """An arrival schedule for one worker of ``worker_count``."""

    spans: tuple[StageSpan, ...]
    arrival: str = "uniform"
    burstiness: float = 1.0
    seed: int = 1
    worker_index: int = 0
    worker_count: int = 1

    @property
    def duration_s(self) -> float:
        return self.spans[-1].end_s if self.spans else 0.0

    @property
    def expected_total(self) -> float:
        return sum(s.expected for s in self.spans)

    def _operational_times(self) -> Iterator[np.ndarray]:
        """Batches of increasing operational times u for this worker (unbounded)."""
        w, i = self.worker_count, self.worker_index
        if self.arrival == "uniform":
            k = 0
            while True:
                yield (np.arange(k, k + _BATCH, dtype=np.float64) * w) + i
                k += _BATCH
        shape = 1.0 if self.arrival == "poisson" else 1.0 / self.burstiness
        rng = np.random.default_rng([self.seed, i, w])
        last = 0.0
        while True:
            gaps = rng.gamma(shape, w / shape, size=_BATCH)
            times = last + np.cumsum(gaps)
            last = float(times[-1])
            yield times

    def offsets_us(self) -> Iterator[int]:
        """Intended send times of this worker, microseconds from the schedule start, ascending."""
        base_count = 0.0
        batches = (batch.tolist() for batch in self._operational_times())  # floats, not numpy's
        pending = next(batches)
        pos = 0
        for span in self.spans:
            stage_total = span.expected
            while True:
                if pos == len(pending):
                    pending, pos = next(batches), 0
                count = pending[pos] - base_count
                if count >= stage_total:
                    break
                pos += 1
                if stage_total <= 0:
                    continue
                yield int(round((span.start_s + span.time_at(count)) * US_PER_S))
            base_count += stage_total


class Arrivals(Protocol):
    """What the generator reads of a schedule: intended send times, µs from its start, ascending,
    and how long it runs."""

    @property
    def duration_s(self) -> float: ...

    def offsets_us(self) -> Iterator[int]: ...


__all__ = ["Arrivals", "Schedule", "StageSpan", "spans_from_stages"]
