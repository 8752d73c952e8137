"""A Linux timerfd: the event loop itself wakes at a nanosecond-set time, no thread in between.

gevent's own timers round up to whole milliseconds. A native thread that sleeps precisely and then
wakes the event loop costs two wake-ups a request (the thread's, then the loop's through an
async watcher) and a hand-over of the GIL: about 110 µs from the due time to the request's
greenlet on this project's 2-core machine, and 25–40 µs of CPU. A timerfd armed at an absolute
CLOCK_MONOTONIC time (the clock of ``time.perf_counter_ns`` on Linux) becomes readable when it is
due, so the loop's own poll returns then: one wake-up, in the thread that sends.

Waking at the due time still leaves the wake-up (~40 µs here) and the loop's dispatch to the
request's greenlet (~50 µs) after it. So the timer wakes ``Lead.ns`` early and the greenlet waits
out what is left: ``Lead`` follows the ``quantile`` of how early greenlets reach their send (a
stochastic quantile estimate: down ``1 - quantile`` of a step each time one is early, up
``quantile`` of a step each time one is late), so about one request in five waits, for
microseconds, holding the loop, and the rest leave later than their due time by less than
without it.

``TimerFd.open()`` gives None where there is no timerfd (not Linux, or no libc); the generator
then keeps its native timer thread (``ThreadArrivalTimer``), as it does with
``EDGEPERF_TIMER=thread``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gevent.monkey

from loadtests.engine.turntimer import fine_timer_slack

# "thread" keeps the generator's native timer thread where a timerfd would be used (benchmarks
# compare both).
TIMER_ENV = "EDGEPERF_TIMER"
_real_sleep = gevent.monkey.get_original("time", "sleep")
_real_thread = gevent.monkey.get_original("_thread", "start_new_thread")
_MAX_SLEEP_S = 0.05  # the timer thread re-checks for a stop this often
_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = getattr(os, "O_CLOEXEC", 0o2000000)
_TFD_TIMER_ABSTIME = 1
_NS = 1_000_000_000


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class TimerFd:
    """One-shot timer on CLOCK_MONOTONIC; its file descriptor is readable once it is due."""

    def __init__(self, libc: ctypes.CDLL, fd: int) -> None:
        self._settime = libc.timerfd_settime
        self._fd = fd
        self._spec = _Itimerspec()
        self._spec_ref = ctypes.byref(self._spec)

    @classmethod
    def open(cls) -> TimerFd | None:
        """A new timer, or None where timerfd or its clock is not ``perf_counter_ns``'s."""
        if not sys.platform.startswith("linux"):
            return None
        if time.get_clock_info("perf_counter").implementation != "clock_gettime(CLOCK_MONOTONIC)":
            return None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            create = libc.timerfd_create
            libc.timerfd_settime  # noqa: B018 - both must exist
        except (OSError, AttributeError):
            return None
        fd = create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if fd < 0:
            return None
        return cls(libc, fd)

    def fileno(self) -> int:
        return self._fd

    def arm_at(self, perf_ns: int) -> None:
        """Be readable at ``perf_ns`` (``time.perf_counter_ns``); at once if that has passed."""
        value = self._spec.it_value
        value.tv_sec, value.tv_nsec = divmod(max(perf_ns, 1), _NS)
        if self._settime(self._fd, _TFD_TIMER_ABSTIME, self._spec_ref, None) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"timerfd_settime: {os.strerror(errno)}")

    def clear(self) -> None:
        """Consume the expiry, so the descriptor is no longer readable."""
        try:  # noqa: SIM105 - once a request: suppress() costs a context manager each time
            os.read(self._fd, 8)
        except BlockingIOError:  # not due after all (a spurious wake-up)
            pass

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Lead:
    """How early (ns) to wake before a due time: the ``quantile`` of early arrivals, learnt.

    ``observe(early_ns)`` takes how early (positive) or late a greenlet reached its send. Sends
    later than ``seen_ns`` waited for something else (the cap, a stall) and teach nothing. The
    lead stays within [0, ``max_ns``].
    """

    def __init__(
        self,
        quantile: float = 0.2,
        step_ns: float = 1_000.0,
        max_ns: float = 150_000.0,
        seen_ns: int = 1_000_000,
        initial_ns: float = 50_000.0,  # half the hand-off on this project's machine
    ) -> None:
        self._down = step_ns * (1 - quantile)
        self._up = step_ns * quantile
        self._max = max_ns
        self._seen = -seen_ns
        self._ns = min(max(0.0, initial_ns), max_ns)
        self.ns = int(self._ns)  # the lead now, whole nanoseconds

    def observe(self, early_ns: int) -> None:
        if early_ns > 0:
            self._ns = max(0.0, self._ns - self._down)
        elif early_ns > self._seen:
            self._ns = min(self._max, self._ns + self._up)
        else:
            return
        self.ns = int(self._ns)


@dataclass(frozen=True)
class ArrivalQueue:
    """What an arrival timer queues, and where.

    The intended time (epoch µs) of each arrival goes to ``due``, then None once the schedule is
    over (or ``stopping()``): at the last arrival, or with ``hold_open`` (sessions, whose later
    turns may leave until the end) at ``end_ns``. Times in ``perf_counter_ns``: arrival k is due
    at ``base_ns + offsets_us[k] * 1000``.
    """

    offsets_us: Iterator[int]
    base_ns: int
    start_us: int
    end_ns: int
    hold_open: bool
    due: deque[Any]
    stopping: Callable[[], bool]


class ArrivalTimer:
    """Arrivals queued from the event loop's own poll (a timerfd), ``lead.ns`` before each is due.

    Each tick queues every arrival due within the lead and calls ``drain``; ``wait_until_due``
    holds an early greenlet until its due time.
    """

    name = "timerfd"

    def __init__(self, tfd: TimerFd, arrivals: ArrivalQueue, drain: Callable[[], None]) -> None:
        self._tfd = tfd
        self._a = arrivals
        self._next: int | None = next(arrivals.offsets_us, None)
        self._drain = drain
        self._watcher: Any = None
        self.lead = Lead()
        self.wait_s = 0.0  # the time greenlets woken early waited for their due time

    def start(self, loop: Any) -> None:
        """Watch the timer on ``loop`` (the gevent hub's) and arm it for the first arrival."""
        self._watcher = loop.io(self._tfd.fileno(), 1)
        self._watcher.start(self._on_tick)
        self._arm()

    def _arm(self) -> None:
        if self._next is not None:
            self._tfd.arm_at(self._a.base_ns + self._next * 1000 - self.lead.ns)
        else:
            self._tfd.arm_at(self._a.end_ns)

    def _on_tick(self) -> None:
        # Not cleared: arming the timer again (or stopping the watcher) below makes the
        # descriptor unreadable, one system call a request fewer.
        now_ns = time.perf_counter_ns()
        a, offset = self._a, self._next
        stopping = a.stopping()
        ahead_ns = now_ns + self.lead.ns  # due within the lead: its greenlet waits
        while offset is not None and not stopping and a.base_ns + offset * 1000 <= ahead_ns:
            a.due.append(a.start_us + offset)
            offset = next(a.offsets_us, None)
        self._next = offset
        if stopping or (offset is None and (not a.hold_open or now_ns >= a.end_ns)):
            self._watcher.stop()
            a.due.append(None)
        else:
            self._arm()
        self._drain()

    def wait_until_due(self, due_ns: int) -> None:
        """Hold the loop until ``due_ns`` when the lead brought this greenlet early
        (microseconds, about one request in five); the lead learns from each."""
        early_ns = due_ns - time.perf_counter_ns()
        self.lead.observe(early_ns)
        if early_ns > 0:
            while (now_ns := time.perf_counter_ns()) < due_ns:
                pass
            self.wait_s += (now_ns - due_ns + early_ns) / 1e9

    def kick(self) -> None:
        """Tick at once (a stop is noticed now, not at the next arrival)."""
        with contextlib.suppress(OSError):  # already closed: the run is over
            self._tfd.arm_at(0)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.close()
        self._tfd.close()


class ThreadArrivalTimer:
    """Arrivals queued from a native thread that sleeps until each is due (~50 µs precision) and
    wakes the event loop through ``wake`` (an async watcher's send): where there is no timerfd.
    Arrivals leave about 0.1 ms after their due time here; nothing waits, so there is no lead."""

    name = "thread"

    def __init__(self, arrivals: ArrivalQueue, wake: Callable[[], None]) -> None:
        self._a = arrivals
        self._wake = wake
        self.wait_s = 0.0

    def start(self, loop: Any) -> None:
        _real_thread(self._run, ())

    def _run(self) -> None:
        fine_timer_slack()
        a = self._a
        try:
            for offset_us in a.offsets_us:
                if not self._sleep_until(a.base_ns + offset_us * 1000):
                    break
                a.due.append(a.start_us + offset_us)
                self._wake()
            if a.hold_open:  # later turns may leave until the schedule's very end
                self._sleep_until(a.end_ns)
        finally:
            a.due.append(None)
            self._wake()

    def _sleep_until(self, due_ns: int) -> bool:
        """Sleep until ``due_ns`` (perf counter); False when stopping came first."""
        while not self._a.stopping():
            wait_s = (due_ns - time.perf_counter_ns()) / 1e9
            if wait_s <= 0:
                return True
            _real_sleep(min(wait_s, _MAX_SLEEP_S))
        return False

    def wait_until_due(self, due_ns: int) -> None:
        """Nothing to wait for: the thread queues an arrival only once it is due."""

    def kick(self) -> None:
        """Nothing: the thread notices a stop within ``_MAX_SLEEP_S``."""

    def close(self) -> None:
        """Nothing: the thread ends after queueing the end of the schedule."""


def arrival_timer(
    arrivals: ArrivalQueue, drain: Callable[[], None], wake: Callable[[], None]
) -> ArrivalTimer | ThreadArrivalTimer:
    """The timerfd where there is one and ``TIMER_ENV`` does not ask for the thread."""
    tfd = TimerFd.open() if os.environ.get(TIMER_ENV, "") != "thread" else None
    if tfd is None:
        return ThreadArrivalTimer(arrivals, wake)
    return ArrivalTimer(tfd, arrivals, drain)


__all__ = [
    "TIMER_ENV",
    "ArrivalTimer",
    "ArrivalQueue",
    "Lead",
    "ThreadArrivalTimer",
    "TimerFd",
    "arrival_timer",
]
