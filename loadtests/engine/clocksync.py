"""Worker clocks on the master's timescale.

Every worker measures latency on its own monotonic counter (intended, sent and done are read from
one ``perf_counter`` and differences of them never see the wall clock), but the schedule's start
and every recorded epoch time must line up across machines. A worker therefore estimates its wall
clock's offset from the master's by a few request/response exchanges (Cristian's algorithm):

    offset = (t_sent + t_received) / 2 - t_master

with ``t_sent``/``t_received`` the worker's clock around the exchange and ``t_master`` the
master's clock when it answered. The master answered somewhere inside the round trip, so the
estimate is within ± rtt / 2 of the truth; the exchange with the smallest round trip is kept.
The worker's :class:`Clock` then reads epoch microseconds on the master's timescale.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

TEST_CLOCK_SKEW_ENV = "EDGEPERF_TEST_CLOCK_SKEW_S"  # tests: this process's wall clock is off by S
EXCHANGES = 8


def _test_skew_ns() -> int:
    text = os.environ.get(TEST_CLOCK_SKEW_ENV, "").strip()
    if not text:
        return 0
    try:
        return int(float(text) * 1e9)
    except ValueError:
        raise ValueError(f"{TEST_CLOCK_SKEW_ENV}={text!r}: expected seconds, e.g. 0.3") from None


_SKEW_NS = _test_skew_ns()


def wall_ns() -> int:
    """This process's wall clock in epoch nanoseconds (skewed by the test variable, if set)."""
    return time.time_ns() + _SKEW_NS


@dataclass(frozen=True)
class ClockOffset:
    """This clock minus the master's, in microseconds, known to within ± ``rtt_us`` / 2."""

    offset_us: int
    rtt_us: int

    def as_dict(self) -> dict[str, int]:
        return {"clock_offset_us": self.offset_us, "clock_rtt_us": self.rtt_us}


def estimate_offset(
    ask_master_us: Callable[[], int],
    exchanges: int = EXCHANGES,
    now_ns: Callable[[], int] = wall_ns,
) -> ClockOffset:
    """The offset from the exchange with the smallest round trip.

    ``ask_master_us()`` sends one request and returns the master's epoch microseconds from its
    answer (it raises if none comes).
    """
    best: ClockOffset | None = None
    for _ in range(max(1, exchanges)):
        sent_ns = now_ns()
        master_us = ask_master_us()
        received_ns = now_ns()
        rtt_us = (received_ns - sent_ns) // 1000
        offset = ClockOffset((sent_ns + received_ns) // 2000 - master_us, rtt_us)
        if best is None or offset.rtt_us < best.rtt_us:
            best = offset
    assert best is not None
    return best


class Clock:
    """Epoch microseconds read from the monotonic perf counter (one offset, taken once).

    ``offset_us`` (this clock minus the master's) puts every reading on the master's timescale.
    """

    def __init__(self, offset_us: int = 0) -> None:
        self.offset_ns = wall_ns() - time.perf_counter_ns() - offset_us * 1000

    def now_us(self) -> int:
        return (time.perf_counter_ns() + self.offset_ns) // 1000

    def perf_ns_at(self, epoch_us: int) -> int:
        return epoch_us * 1000 - self.offset_ns


__all__ = ["TEST_CLOCK_SKEW_ENV", "Clock", "ClockOffset", "estimate_offset", "wall_ns"]
