"""What edgeperf adds to Locust's master/worker messaging: clocks, reports and a lost master.

Rows and final statistics travel from every worker to the master (``ROWS``, ``DONE``); before
its schedule a worker measures its clock against the master's (``CLOCK``/``CLOCK_REPLY``, see
:mod:`loadtests.engine.clocksync`) and reports the offset (``JOINED``); a worker that hears no
heartbeat from its master for ``MASTER_LOST_S`` stops its load and exits non-zero.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event

from loadtests.engine.clocksync import wall_ns

ROWS_MESSAGE = "edgeperf_rows"
DONE_MESSAGE = "edgeperf_done"
STOP_MESSAGE = "edgeperf_stop"
CLOCK_MESSAGE = "edgeperf_clock"
CLOCK_REPLY = "edgeperf_clock_reply"
JOINED_MESSAGE = "edgeperf_joined"
MASTER_LOST_S = 5.0  # Locust's own worker waits 60 s; a load without its master must stop sooner
MASTER_LOST_EXIT = 2  # the run cannot be judged: exit code 2 of the run contract
CLOCK_REPLY_TIMEOUT_S = 5.0
_log = logging.getLogger("edgeperf")


def serve_clock(runner: Any) -> None:
    """On the master: answer every worker's clock request with this clock, at once."""

    def reply(msg: Any, **_: Any) -> None:
        data = {"seq": msg.data["seq"], "master_us": wall_ns() // 1000}
        runner.send_message(CLOCK_REPLY, data, client_id=msg.node_id)

    runner.register_message(CLOCK_MESSAGE, reply)


class MasterClock:
    """On a worker: one request/response exchange with the master's clock at a time."""

    def __init__(self, runner: Any) -> None:
        self._runner = runner
        self._seq = 0
        self._pending: dict[int, gevent.event.AsyncResult] = {}
        runner.register_message(CLOCK_REPLY, self._on_reply)

    def _on_reply(self, msg: Any, **_: Any) -> None:
        pending = self._pending.pop(int(msg.data["seq"]), None)
        if pending is not None:
            pending.set(int(msg.data["master_us"]))

    def ask_us(self) -> int:
        """The master's epoch microseconds; raises ``RuntimeError`` if it does not answer."""
        self._seq += 1
        answer = gevent.event.AsyncResult()
        self._pending[self._seq] = answer
        self._runner.send_message(CLOCK_MESSAGE, {"seq": self._seq})
        try:
            return int(answer.get(timeout=CLOCK_REPLY_TIMEOUT_S))
        except gevent.Timeout:
            raise RuntimeError(
                f"the master did not answer a clock request within {CLOCK_REPLY_TIMEOUT_S:g} s"
            ) from None
        finally:
            self._pending.pop(self._seq, None)


def watch_master(
    environment: Any, on_lost: Callable[[float], None], lost_after_s: float = MASTER_LOST_S
) -> gevent.Greenlet:
    """On a worker: call ``on_lost(silence_s)`` once no heartbeat came for ``lost_after_s``.

    Armed by the first heartbeat, so a worker may start before its master does.
    """
    last: list[float] = []

    def heard(**_: Any) -> None:
        last[:] = [time.monotonic()]

    environment.events.heartbeat_received.add_listener(heard)

    def watch() -> None:
        while True:
            gevent.sleep(0.5)
            silence_s = time.monotonic() - last[0] if last else 0.0
            if silence_s > lost_after_s:
                on_lost(silence_s)
                return

    return gevent.spawn(watch)


__all__ = [
    "CLOCK_MESSAGE",
    "CLOCK_REPLY",
    "DONE_MESSAGE",
    "JOINED_MESSAGE",
    "MASTER_LOST_EXIT",
    "MASTER_LOST_S",
    "ROWS_MESSAGE",
    "STOP_MESSAGE",
    "MasterClock",
    "serve_clock",
    "watch_master",
]
