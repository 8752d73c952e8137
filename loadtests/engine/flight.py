"""One request between its start and its row: what reads its body, and how it ended."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable

import gevent

from loadtests.engine.client import Http1Pool
from loadtests.engine.loopclient import Exchange, LoopHttp
from loadtests.engine.mix import PlannedRequest
from loadtests.engine.response import BodySink, ConnectionClosed, HttpProtocolError, Response
from loadtests.engine.sse import BodyUsage, TokenClock

OnDone = Callable[["Flight", Response | None, BaseException | None], None]


def classify_error(exc: BaseException) -> str:
    """A short, stable error class for a failed request."""
    if isinstance(exc, gevent.Timeout | socket.timeout | TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "connection reset"
    if isinstance(exc, ConnectionClosed):
        return "connection closed"
    if isinstance(exc, ssl.SSLCertVerificationError):  # also a ValueError: before that test
        return "tls verification"
    if isinstance(exc, ssl.SSLError):
        return "tls error"
    if isinstance(exc, HttpProtocolError | ValueError | UnicodeDecodeError):
        return "malformed response"
    if isinstance(exc, socket.gaierror):
        return "dns"
    return type(exc).__name__


def _both(first: BodySink, second: BodySink | None) -> BodySink:
    if second is None:
        return first

    def sink(data: bytes) -> None:
        first(data)
        second(data)

    return sink


class Flight:
    """One request in flight: its body's readers (``sink``), then ``complete`` calls ``on_done``.

    A stream's tokens are timed (``tokens``); a chat answer's body is read for its usage (a
    model: a chat kind), others are not kept; a session's answer is kept for its next turn.
    """

    __slots__ = ("answer", "body", "intended_us", "on_done", "req", "sent_us", "sink", "task",
                 "tokens")  # fmt: skip

    def __init__(
        self, intended_us: int, req: PlannedRequest, now_us: Callable[[], int], on_done: OnDone
    ) -> None:
        self.intended_us = intended_us
        self.req = req
        self.on_done = on_done
        self.tokens = TokenClock(now_us) if req.stream else None
        self.body: TokenClock | BodyUsage | None = self.tokens or (
            BodyUsage() if req.model else None
        )
        sink: BodySink | None = self.body.feed if self.body else None
        self.answer: bytearray | None = None  # a session's answer, for its next turn
        if req.turn is not None and not req.turn.last:
            self.answer = bytearray()
            sink = _both(self.answer.extend, sink)
        self.sink = sink
        self.sent_us = -1
        self.task: Exchange | gevent.Greenlet | None = None  # on the loop client, or a greenlet

    def complete(self, response: Response | None, error: BaseException | None) -> None:
        """The loop client's ``done``."""
        self.on_done(self, response, error)

    def cancel(self, client: LoopHttp | Http1Pool) -> None:
        """End it now, recorded as cancelled."""
        task = self.task
        if isinstance(task, Exchange) and isinstance(client, LoopHttp):
            client.cancel(task, gevent.GreenletExit())
        elif task is not None:
            gevent.kill(task)


__all__ = ["Flight", "classify_error"]
