"""Later turns of sessions leave at their own intended time: a queue and its native timer thread.

A session's next turn is due at the previous answer's end plus a think time, a time no arrival
schedule knows in advance. ``TurnQueue`` orders such due times (pure, clock passed in);
``TurnTimer`` runs one in a native thread that sleeps until the earliest is due (~50 µs precision,
as the generator's own timer: gevent's timers round up to whole milliseconds) and hands each item
to ``deliver``. An item added earlier than the one slept for wakes the thread at once. After
``close()`` nothing more is delivered: the turns still waiting are cut by the end of the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import itertools
from collections.abc import Callable
from typing import Generic, TypeVar

import gevent.monkey

T = TypeVar("T")
_real_lock = gevent.monkey.get_original("_thread", "allocate_lock")
_real_thread = gevent.monkey.get_original("_thread", "start_new_thread")
_PR_SET_TIMERSLACK = 29
_MAX_WAIT_S = 0.05  # a wait no wake-up shortens still ends this often (close() is noticed)


def fine_timer_slack() -> None:
    """Let this thread's sleeps end within about a microsecond where Linux allows it."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0)


class TurnQueue(Generic[T]):
    """Items by due time (epoch µs); equal times leave in the order they were added."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, T]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due_us: int, item: T) -> bool:
        """Add ``item``; True when it is now the earliest (a sleeper must wake for it)."""
        heapq.heappush(self._heap, (due_us, next(self._order), item))
        return self._heap[0][2] is item

    def pop_due(self, now_us: int) -> list[tuple[int, T]]:
        """(due time, item) of every item due by ``now_us``, earliest first."""
        out = []
        while self._heap and self._heap[0][0] <= now_us:
            due_us, _, item = heapq.heappop(self._heap)
            out.append((due_us, item))
        return out

    def wait_us(self, now_us: int) -> int | None:
        """Microseconds until the earliest item is due (0 if it is); None when empty."""
        return max(0, self._heap[0][0] - now_us) if self._heap else None

    def clear(self) -> int:
        """Drop every item; how many there were."""
        n, self._heap = len(self._heap), []
        return n


class TurnTimer(Generic[T]):
    """A ``TurnQueue`` served by a native thread: ``deliver(due_us, item)`` runs in that thread."""

    def __init__(self, now_us: Callable[[], int], deliver: Callable[[int, T], None]) -> None:
        self._now_us = now_us
        self._deliver = deliver
        self._queue: TurnQueue[T] = TurnQueue()
        self._lock = _real_lock()
        self._wake = _real_lock()  # released = "look again": a new earliest item or close()
        self._wake.acquire()
        self._closed = False
        self._started = False
        self.cut = 0  # items dropped by close(), or added after it

    def start(self) -> None:
        if not self._started:
            self._started = True
            _real_thread(self._run, ())

    def add(self, due_us: int, item: T) -> bool:
        """Queue ``item`` for ``due_us``; False (and counted as cut) once the timer is closed."""
        with self._lock:
            if self._closed:
                self.cut += 1
                return False
            earliest = self._queue.push(due_us, item)
        if earliest:
            self._poke()
        return True

    def close(self) -> None:
        """Deliver nothing more; the items still waiting are cut."""
        with self._lock:
            self._closed = True
            self.cut += self._queue.clear()
        self._poke()

    def _poke(self) -> None:
        with contextlib.suppress(RuntimeError):  # already released: the thread will look anyway
            self._wake.release()

    def _run(self) -> None:
        fine_timer_slack()
        while True:
            with self._lock:
                if self._closed:
                    return
                now_us = self._now_us()
                ready = self._queue.pop_due(now_us)
                wait_us = self._queue.wait_us(now_us)
            for due_us, item in ready:
                self._deliver(due_us, item)
            if ready:
                continue  # time passed while delivering: look again before sleeping
            wait_s = _MAX_WAIT_S if wait_us is None else min(wait_us / 1e6, _MAX_WAIT_S)
            self._wake.acquire(timeout=wait_s)


__all__ = ["TurnQueue", "TurnTimer", "fine_timer_slack"]
