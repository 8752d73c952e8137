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
then keeps its native timer thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import time

# "thread" keeps the generator's native timer thread where a timerfd would be used (benchmarks
# compare both).
TIMER_ENV = "EDGEPERF_TIMER"
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
        with contextlib.suppress(BlockingIOError):
            os.read(self._fd, 8)

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


__all__ = ["TIMER_ENV", "Lead", "TimerFd"]
