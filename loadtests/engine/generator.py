"""The open-model generator: sends each request at its scheduled time and records it exactly.

gevent's own timers round up to whole milliseconds. On Linux a timerfd (``hubtimer``) makes the
hub's own poll return a little before each arrival is due (the lead, learnt from how early
greenlets get to their send); the callback starts a greenlet for every request due by then, and
the greenlet waits out what is left, so the request leaves at its due time, not a wake-up and a
dispatch after it. Elsewhere (or with ``EDGEPERF_TIMER=thread``) a native timer thread sleeps
with ~50 µs precision and wakes the hub through an async watcher: two wake-ups and a hand-over of
the GIL a request, about 0.1 ms after the due time on this project's 2-core machine.

A request is sent and read in the loop's own callbacks (``loopclient``, plain HTTP and TLS): no
greenlet a request, about 85 µs of CPU a request less than a greenlet each. With
``EDGEPERF_CLIENT=greenlet`` each request runs in a greenlet on ``client.Http1Pool`` instead (for
comparison); both record a request the same way (``_complete``).

Responses never hold back the schedule: when the concurrency cap is reached, due requests wait in
a queue until a request finishes, each such wait is counted, and the late requests are still
measured from their intended time (coordinated-omission correction).

Later turns of a multi-turn session are due at the previous answer's end plus a think time: a
second native timer (``turntimer``) hands them to the same queue, and they are measured from that
intended time. Turns still thinking when the schedule ends are not sent (the session is cut).
"""

from __future__ import annotations

import collections
import gc
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.event
import gevent.monkey

from loadtests.engine.client import Http1Pool, Response, header_us, request_body_bytes
from loadtests.engine.clocksync import Clock
from loadtests.engine.conversation import answer_text
from loadtests.engine.flight import Flight, classify_error
from loadtests.engine.hubtimer import ArrivalQueue, ArrivalTimer, ThreadArrivalTimer, arrival_timer
from loadtests.engine.loopclient import LoopHttp
from loadtests.engine.mix import Mix, PlannedRequest, next_turn
from loadtests.engine.pacing import Arrivals
from loadtests.engine.sse import NOT_REPORTED
from loadtests.engine.turntimer import TurnTimer
from loadtests.recording.samples import COLUMNS, Columns

_real_sleep = gevent.monkey.get_original("time", "sleep")
# Test only: "AT_S:FOR_MS" blocks the event loop once, AT_S into the schedule, for FOR_MS, as a
# pause of the generator itself would (tests/loadtests/test_stalls_e2e.py). Unset in real runs.
TEST_STALL_ENV = "EDGEPERF_TEST_STALL"
# "greenlet" sends each request from a greenlet of its own on Http1Pool (benchmarks compare)
CLIENT_ENV = "EDGEPERF_CLIENT"
# Handing rows on (columns, Arrow arrays, live figures) holds the event loop about 0.7 ms plus
# 1.3 µs a row: every 1 s at 1000 req/s that was a 2 ms block, enough to set P99.9; every 0.25 s
# it is about 1 ms (30 s runs on the bench target: P99.9 2.06–2.62 ms against 2.26–3.47 ms, send
# lag max under 5 ms in 3 of 3), for about 2 µs more CPU a request.
FLUSH_INTERVAL_S = 0.25
_NO_USAGE = (NOT_REPORTED, NOT_REPORTED, NOT_REPORTED)
_NO_GAPS: list[int] = []  # shared by every row without a stream; never mutated


def _test_stall(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        at_s, for_ms = (float(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(f"{TEST_STALL_ENV}={text!r}: expected AT_S:FOR_MS, e.g. 2:200") from None
    return at_s, for_ms


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class GeneratorStats:
    """What the generator knows about itself after a run."""

    scheduled: int = 0
    sent: int = 0
    cap_waits: int = 0
    max_in_flight: int = 0
    cancelled: int = 0
    # Due but never sent (the cap was full past the timeout, or at the schedule's end), by
    # second of the schedule (intended time); string keys, as JSON keeps them.
    not_sent: int = 0
    not_sent_by_s: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0
    wall_s: float = 0.0
    timer: str = "thread"  # what woke the hub at each due time: "timerfd" or "thread"
    client: str = "loop"  # what sent and read: the loop's callbacks ("loop") or a greenlet each
    timer_lead_us: float = 0.0  # how early the timerfd woke the hub at the end of the run
    timer_wait_s: float = 0.0  # the time greenlets woken early waited for their due time
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class OpenModelGenerator:
    """Drives one worker's share of the schedule at ``base_url`` and hands rows to ``on_rows``."""

    def __init__(
        self,
        *,
        base_url: str,
        schedule: Arrivals,
        start_epoch_us: int,
        mix: Mix,
        max_concurrency: int,
        timeout_s: float,
        worker_index: int,
        on_rows: Callable[[Columns], None],
        on_request: Callable[..., None] | None = None,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        clock: Clock | None = None,
        timing_headers: tuple[str | None, str | None] = (None, None),
        ca_file: str | None = None,
        insecure: bool = False,
    ) -> None:
        self._upstream_header = (timing_headers[0] or "").lower()
        self._overhead_header = (timing_headers[1] or "").lower()
        self._schedule = schedule
        self._start_epoch_us = start_epoch_us
        self._mix = mix
        self._cap = max_concurrency
        self._late_us = int(timeout_s * 1e6)
        self._worker = worker_index
        self._on_rows = on_rows
        self._on_request = on_request
        self._flush_interval_s = flush_interval_s
        self._clock = clock or Clock()
        # Sent and read in the loop's callbacks; a greenlet a request with CLIENT_ENV=greenlet.
        looped = os.environ.get(CLIENT_ENV) != "greenlet"
        self._client = (LoopHttp if looped else Http1Pool)(
            base_url, timeout_s, self._clock.now_us, ca_file=ca_file, insecure=insecure
        )
        # Due times of the schedule (int), due session turns, and None once the schedule ends.
        self._due: collections.deque[int | tuple[int, PlannedRequest] | None] = collections.deque()
        self._turns: TurnTimer[PlannedRequest] = TurnTimer(self._clock.now_us, self._turn_due)
        self._watcher: Any = None  # the hub's async watcher while run() runs
        self._arrivals: ArrivalTimer | ThreadArrivalTimer | None = None  # once run() starts
        self._in_flight: set[Flight] = set()
        self._draining = False
        self._schedule_done = gevent.event.Event()
        self._idle = gevent.event.Event()
        self._stopping = threading.Event()
        self._rows: list[tuple] = []
        self._waiting = 0
        self.stats = GeneratorStats(client="loop" if looped else "greenlet")
        self._test_stall = _test_stall(os.environ.get(TEST_STALL_ENV))

    def _turn_due(self, due_us: int, req: PlannedRequest) -> None:
        """In the turn timer's thread: a session's next turn is due."""
        watcher = self._watcher
        if watcher is not None and not self._schedule_done.is_set():
            self._due.append((due_us, req))
            watcher.send()

    # -- hub side ---------------------------------------------------------------------------
    def _drain(self) -> None:
        """Start every due request the cap allows; the rest wait for a finishing request.

        A request that waited for the cap longer than the request timeout, or was still waiting
        when the schedule ended, is not sent late: it is counted as not sent (k6's dropped
        iterations), so the run ends on schedule however slow the target is.
        """
        if self._draining:  # a request that ended as it was started: the loop below goes on
            return
        self._draining = True
        try:
            self._drain_due()
        finally:
            self._draining = False

    def _drain_due(self) -> None:
        due = self._due
        if self._schedule_done.is_set():  # session turns that came due as the schedule ended
            due.clear()
            return
        oldest_us = self._clock.now_us() - self._late_us
        while due and len(self._in_flight) < self._cap:
            item = due.popleft()
            if self._waiting:
                self._waiting -= 1
            if item is None:
                self._end_schedule()
                return
            intended_us, planned = (item, None) if isinstance(item, int) else item
            index = self.stats.scheduled  # the arrival's place in the schedule: its request
            self.stats.scheduled += 1
            if intended_us < oldest_us:
                self._not_sent(intended_us)
                continue
            self._start(intended_us, index, planned)
        if len(self._in_flight) > self.stats.max_in_flight:
            self.stats.max_in_flight = len(self._in_flight)
        if due and due[-1] is None:  # the schedule is over: what still waits is not sent
            while (intended := due.popleft()) is not None:
                self.stats.scheduled += 1
                self._not_sent(intended if isinstance(intended, int) else intended[0])
            self._waiting = 0
            self._end_schedule()
            return
        if due and len(due) > self._waiting:  # requests that found the cap full when due
            self.stats.cap_waits += len(due) - self._waiting
            self._waiting = len(due)

    def _end_schedule(self) -> None:
        self._schedule_done.set()
        self._turns.close()
        if not self._in_flight:
            self._idle.set()

    def _not_sent(self, intended_us: int) -> None:
        self.stats.not_sent += 1
        second = str(max(0, intended_us - self._start_epoch_us) // 1_000_000)
        self.stats.not_sent_by_s[second] = self.stats.not_sent_by_s.get(second, 0) + 1

    def _start(self, intended_us: int, index: int, planned: PlannedRequest | None) -> None:
        """Send one request: on the loop client at once (after its due time), else in a greenlet
        of its own; ``_complete`` records it."""
        req = planned or self._mix.request_for(index)  # planned: a session's later turn
        flight = Flight(intended_us, req, self._clock.now_us, self._complete)
        self._in_flight.add(flight)
        client = self._client
        if not isinstance(client, LoopHttp):
            flight.task = gevent.spawn_raw(self._send, client, flight, planned is None)
            return
        if self._arrivals is not None and planned is None:  # a session's turn is never early
            self._arrivals.wait_until_due(self._clock.perf_ns_at(intended_us))
        flight.sent_us = self._clock.now_us()
        flight.task = client.start(req.raw, flight.sink, flight.complete)

    def _send(self, client: Http1Pool, flight: Flight, scheduled: bool) -> None:
        """In a greenlet: one request on the blocking client (``CLIENT_ENV``)."""
        if self._arrivals is not None and scheduled:
            self._arrivals.wait_until_due(self._clock.perf_ns_at(flight.intended_us))
        flight.sent_us = self._clock.now_us()
        try:
            response = client.request(flight.req.raw, flight.sink)
        except BaseException as caught:  # noqa: BLE001 - every failure is a measured outcome
            self._complete(flight, None, caught)
        else:
            self._complete(flight, response, None)

    def _complete(
        self, flight: Flight, response: Response | None, exc: BaseException | None
    ) -> None:
        """Record a request that ended (its response, or ``exc``) and start what waits."""
        done_us = self._clock.now_us()
        req, tokens, body = flight.req, flight.tokens, flight.body
        status, nbytes, cache, error, ttfb_us, connect_us = 0, 0, "", "", -1, -1
        upstream_us = overhead_us = -1
        if response is not None:
            ttfb_us, status, nbytes = response.ttfb_us, response.status, response.body_bytes
            connect_us = response.connect_us
            cache = response.headers.get("x-cache-status", "")
            upstream_us = header_us(response.headers, self._upstream_header)
            overhead_us = header_us(response.headers, self._overhead_header)
            if status >= 400:
                error = f"HTTP {status}"
        elif isinstance(exc, gevent.GreenletExit):
            error, exc = "cancelled", None
            self.stats.cancelled += 1
        elif exc is not None:
            error = classify_error(exc)
        self.stats.sent += 1
        if tokens is not None and not error and not tokens.done:
            error = "stream incomplete"  # a stream that ended without its [DONE] event
        first_us, last_us, count, gaps = (
            (tokens.first_us, tokens.last_us, tokens.tokens, tokens.gaps_us)
            if tokens
            else (-1, -1, 0, _NO_GAPS)
        )
        usage = _NO_USAGE
        if body is not None:
            body.finish()
            usage = body.usage.as_tuple()
        turn = req.turn
        self._rows.append(
            (flight.intended_us, flight.sent_us, ttfb_us, done_us, status, req.kind, req.model,
             error, nbytes, cache, self._worker, first_us, last_us, count, upstream_us,
             overhead_us, connect_us, turn.session if turn else -1, turn.index if turn else 0,
             turn.turns if turn else 0, request_body_bytes(req.raw), *usage, gaps)
        )  # fmt: skip
        answer = flight.answer
        if answer is not None and not error and not self._schedule_done.is_set():
            self._follow(req, answer, done_us)
        if self._on_request is not None:
            self._on_request(req, (done_us - flight.intended_us) / 1000.0, nbytes, error, exc)
        self._in_flight.discard(flight)
        if self._due:
            self._drain()
        elif not self._in_flight and self._schedule_done.is_set():
            self._idle.set()

    def _follow(self, req: PlannedRequest, answer: bytearray, done_us: int) -> None:
        """Queue the session's next turn: due ``done_us`` plus its think time."""
        follows = next_turn(req, answer_text(bytes(answer), req.stream))
        if follows is not None:
            think_s, turn = follows
            self._turns.add(done_us + round(think_s * 1e6), turn)

    def _flush(self) -> None:
        if self._rows:
            rows, self._rows = self._rows, []
            self._on_rows(
                {
                    name: list(col)
                    for name, col in zip(COLUMNS, zip(*rows, strict=True), strict=True)
                }
            )

    def _flusher(self) -> None:
        while True:
            gevent.sleep(self._flush_interval_s)
            self._flush()

    def _block_loop(self, at_s: float, for_ms: float) -> None:
        """Test only: block the hub (the real, blocking sleep) ``at_s`` into the schedule."""
        gevent.sleep(max(0.0, (self._start_epoch_us - self._clock.now_us()) / 1e6 + at_s))
        self.stats.notes.append(f"{TEST_STALL_ENV}: the event loop was blocked for {for_ms:g} ms")
        _real_sleep(for_ms / 1000)

    def stop(self) -> None:
        """Stop scheduling; requests in flight get a short grace in run(), then are cancelled."""
        self._stopping.set()
        if self._arrivals is not None:  # the hub timer notices at once, not at the next arrival
            self._arrivals.kick()

    def run(self, drain_s: float | None = None) -> GeneratorStats:
        """Run the schedule to its end (or stop()), drain in-flight requests, flush every row."""
        # Everything alive now (Locust, the libraries, the plan) lives on through the run: move
        # it out of the collector's reach, so a full collection mid-run walks only new objects.
        gc.collect()
        gc.freeze()
        hub = gevent.get_hub()
        watcher = hub.loop.async_()
        watcher.start(self._drain)
        self._watcher = watcher
        cpu0, wall0 = _cpu_s(), time.monotonic()
        flusher = gevent.spawn(self._flusher)
        staller = gevent.spawn(self._block_loop, *self._test_stall) if self._test_stall else None
        base_ns = self._clock.perf_ns_at(self._start_epoch_us)
        arrivals = ArrivalQueue(
            iter(self._schedule.offsets_us()), base_ns, self._start_epoch_us,
            base_ns + round(self._schedule.duration_s * 1e9), self._mix.has_sessions,
            self._due, self._stopping.is_set,
        )  # fmt: skip
        self._arrivals = arrival_timer(arrivals, self._drain, watcher.send)
        self._arrivals.start(hub.loop)
        self.stats.timer = self._arrivals.name
        if self._mix.has_sessions:
            self._turns.start()
        try:
            self._schedule_done.wait()
            grace = 1.5 if self._stopping.is_set() else (drain_s or self._client.timeout_s + 1.0)
            if not self._idle.wait(timeout=grace):
                self.stats.notes.append(
                    f"{len(self._in_flight)} requests still in flight at the end were cancelled"
                )
                for flight in list(self._in_flight):
                    flight.cancel(self._client)
                gevent.sleep(0)
        finally:
            self._stopping.set()
            self._turns.close()
            flusher.kill()
            if staller is not None:
                staller.kill()
            self._flush()
            watcher.stop()
            watcher.close()
            self._arrivals.close()
            if isinstance(self._arrivals, ArrivalTimer):
                self.stats.timer_lead_us = self._arrivals.lead.ns / 1000
            self.stats.timer_wait_s = self._arrivals.wait_s
            self._client.close()
            self.stats.cpu_s = _cpu_s() - cpu0
            self.stats.wall_s = time.monotonic() - wall0
        return self.stats


__all__ = ["Clock", "GeneratorStats", "OpenModelGenerator"]
