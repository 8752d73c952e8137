"""HTTP requests driven by the event loop's own callbacks: no greenlet a request.

A greenlet for each request (start it, switch to it, park it on its socket, switch back when the
answer comes, let it die) costs about 45 µs of CPU a request on this project's 2-core machine,
against the request's own ~85 µs of sending, receiving and polling (a socket echo benchmark: 130
against 87 µs). Here a request is a small ``Exchange``: ``start`` sends its bytes on an idle
kept-alive socket, the socket's read watcher (started once, for the connection's life: no
``epoll_ctl`` a request) feeds what arrives to a ``ResponseReader``, and ``done`` is called from
the loop with the response or the error. An idle connection's watcher sees a server's close at
once, so the next request does not find it stale.

TLS (``https://``) runs on memory buffers (``ssl.MemoryBIO``): the socket's bytes go through the
session in the same callbacks, verified as ``client.Http1Pool`` verifies them.

Only the rare parts run in a greenlet: opening a connection (``gevent.socket.create_connection``:
names, timeouts and errors as everywhere else, then the TLS handshake) and the one retry, on a
new connection, of a request whose reused socket the server had closed before any byte of the
answer arrived (as in ``client.Http1Pool``). Deadlines are checked by one repeating timer, every
1/20 of the timeout: all requests share one timeout, so they expire in the order they started.
"""

from __future__ import annotations

import _socket
import socket as stdlib_socket
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.socket

from loadtests.engine.client import RECV_BYTES, STALE, origin
from loadtests.engine.response import BodySink, ConnectionClosed, Response, ResponseReader

_READ = 1
_WRITE = 2
# Deadlines are checked every 1/20 of the timeout (within 5 ms and 0.5 s): a timeout fires up
# to 5 % late, and a 10 s timeout costs 2 wake-ups a second, not one a request.
_SWEEP_SHARE = 0.05
Done = Callable[[Response | None, BaseException | None], None]


def _ended(response: Response | None, error: BaseException | None) -> None:
    """An ended exchange's ``done``: its own was called, and let go."""


class _Tls:
    """A TLS session on memory buffers: the socket carries its records, the loop moves them."""

    __slots__ = ("incoming", "obj", "outgoing")

    def __init__(self, context: ssl.SSLContext, host: str) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.incoming, self.outgoing, server_hostname=host)

    def handshake(self, sock: Any) -> None:
        """In a greenlet, on ``sock`` (a gevent socket with its timeout): verify and agree."""
        while True:
            try:
                self.obj.do_handshake()
            except ssl.SSLWantReadError:
                sock.sendall(self.outgoing.read())
                data = sock.recv(RECV_BYTES)
                if not data:
                    raise ConnectionClosed("connection closed during the TLS handshake") from None
                self.incoming.write(data)
                continue
            sock.sendall(self.outgoing.read())
            return

    def encrypt(self, data: bytes) -> bytes:
        self.obj.write(data)
        return self.outgoing.read()

    def decrypt(self, data: bytes) -> tuple[bytes, bool]:
        """The plaintext that ``data`` (``b""``: the peer closed) completes, and whether the
        stream ended (a close, with or without TLS's close_notify)."""
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()
        parts = []
        ended = False
        try:
            while chunk := self.obj.read(RECV_BYTES):
                parts.append(chunk)
            ended = True
        except ssl.SSLWantReadError:  # all there is for now (or a record without data)
            pass
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            ended = True
        return b"".join(parts), ended


class _Conn:
    """A kept-alive socket, read whenever it is readable: for its exchange, or while idle (a
    server's close is noticed then, not when the next request finds it)."""

    __slots__ = ("buf", "connect_us", "ex", "reader", "reused", "sock", "tls", "writer")

    def __init__(
        self, sock: _socket.socket, reader: Any, connect_us: int, tls: _Tls | None = None
    ) -> None:
        self.sock = sock
        self.tls = tls  # the TLS session over the socket, for https://
        self.reader = reader  # the read watcher, started for the connection's life
        self.writer: Any = None  # a write watcher, while a request waits to be sent whole
        self.ex: Exchange | None = None  # the exchange in flight on it
        self.buf = b""
        self.reused = False
        self.connect_us = connect_us

    def close(self) -> None:
        """Stop its watchers and close it; again: nothing more."""
        self.ex = None
        for watcher in (self.reader, self.writer):
            if watcher is not None:
                watcher.stop()
                watcher.close()
        self.reader = self.writer = None
        self.sock.close()


class Exchange:
    """One request in flight; ``LoopHttp`` moves it on."""

    __slots__ = ("conn", "deadline", "done", "finished", "pending", "raw", "reader", "retried",
                 "sink")  # fmt: skip

    def __init__(self, raw: bytes, sink: BodySink | None, done: Done, deadline: float) -> None:
        self.raw = raw
        self.sink = sink
        self.done = done
        self.deadline = deadline
        self.conn: _Conn | None = None
        self.reader: ResponseReader | None = None
        self.pending = b""  # request bytes the socket has not taken yet
        self.finished = False
        self.retried = False


class LoopHttp:
    """Keep-alive connections to one origin, driven from the gevent hub's loop.

    ``start`` may be called from the hub (a watcher's callback) or from a greenlet; ``done`` is
    called once, from the loop, for every exchange started. ``https://`` origins are verified as
    ``client.Http1Pool`` verifies them (``client.tls_context``).
    """

    def __init__(
        self,
        base_url: str,
        timeout_s: float,
        now_us: Callable[[], int],
        *,
        ca_file: str | None = None,
        insecure: bool = False,
    ) -> None:
        self.host, self.port, self._tls = origin(base_url, ca_file, insecure)
        self.timeout_s = timeout_s
        self._now_us = now_us
        self._loop = gevent.get_hub().loop
        self._idle: list[_Conn] = []
        self._by_start: deque[Exchange] = deque()  # in flight, oldest (soonest deadline) first
        self._sweeper: Any = None

    # -- requests -----------------------------------------------------------------------------
    def start(self, raw: bytes, sink: BodySink | None, done: Done) -> Exchange:
        """Send ``raw``; ``done(response, None)`` or ``done(None, error)`` follows from the loop."""
        ex = Exchange(raw, sink, done, time.monotonic() + self.timeout_s)
        by_start = self._by_start
        while by_start and by_start[0].finished:  # most end in the order they started
            by_start.popleft()
        by_start.append(ex)
        if self._sweeper is None:
            every_s = min(max(self.timeout_s * _SWEEP_SHARE, 0.005), 0.5)
            self._sweeper = self._loop.timer(every_s, every_s)
            self._sweeper.start(self._sweep)
        if self._idle:
            conn = self._idle.pop()
            conn.reused = True
            self._send(ex, conn)
        else:
            gevent.spawn_raw(self._connect, ex)
        return ex

    def cancel(self, ex: Exchange, error: BaseException) -> None:
        """End ``ex`` now with ``error`` (its connection is closed)."""
        self._fail(ex, error, retry=False)

    def request(self, raw: bytes, sink: BodySink | None = None) -> Response:
        """From a greenlet: send ``raw`` and wait for the whole response (or its error)."""
        result: gevent.event.AsyncResult = gevent.event.AsyncResult()

        def done(response: Response | None, error: BaseException | None) -> None:
            if error is not None:
                result.set_exception(error)
            else:
                result.set(response)

        self.start(raw, sink, done)
        return result.get()

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper.close()
            self._sweeper = None
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- the exchange's steps -----------------------------------------------------------------
    def _connect(self, ex: Exchange) -> None:
        """In a greenlet: open a connection for ``ex`` (the only step that may wait long)."""
        start_us = self._now_us()
        gsock = tls = None
        try:
            timeout_s = max(ex.deadline - time.monotonic(), 1e-3)
            gsock = gevent.socket.create_connection((self.host, self.port), timeout=timeout_s)
            gsock.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY, 1)
            if self._tls is not None:
                tls = _Tls(self._tls, self.host)
                tls.handshake(gsock)
        except BaseException as error:  # noqa: BLE001 - the exchange's outcome
            if gsock is not None:
                gsock.close()
            self._fail(ex, error, retry=False)
            return
        sock = _socket.socket(gsock.family, gsock.type, gsock.proto, gsock.detach())
        sock.setblocking(False)
        conn = _Conn(sock, self._loop.io(sock.fileno(), _READ), self._now_us() - start_us, tls)
        conn.reader.start(self._readable, conn)
        if ex.finished:  # timed out or cancelled while connecting
            self._idle.append(conn)
            return
        self._send(ex, conn)

    def _send(self, ex: Exchange, conn: _Conn) -> None:
        ex.conn, conn.ex = conn, ex
        reader = ex.reader = ResponseReader(
            ex.raw.startswith(b"HEAD "), ex.sink, self._now_us, conn.buf
        )
        conn.buf = b""
        raw, ex.pending = ex.raw, b""
        try:
            if conn.tls is not None:
                raw = conn.tls.encrypt(raw)
            sent = conn.sock.send(raw)
        except BlockingIOError:
            sent = 0
        except OSError as error:
            self._fail(ex, error, retry=True)
            return
        if sent < len(raw):  # the socket's buffer is full: the rest when it is writable
            ex.pending = raw[sent:]
            if conn.writer is None:
                conn.writer = self._loop.io(conn.sock.fileno(), _WRITE)
            conn.writer.start(self._writable, ex)
        if reader.buf:  # the connection held bytes already (a server's stray extra bytes)
            self._take(ex, b"")

    def _writable(self, ex: Exchange) -> None:
        conn = ex.conn
        if conn is None:  # ended meanwhile
            return
        try:
            sent = conn.sock.send(ex.pending)
        except BlockingIOError:
            return
        except OSError as error:
            self._fail(ex, error, retry=True)
            return
        ex.pending = ex.pending[sent:]
        if not ex.pending:
            conn.writer.stop()

    def _readable(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(RECV_BYTES)
            ended = not data
            if conn.tls is not None:
                data, ended = conn.tls.decrypt(data)
        except BlockingIOError:
            return
        except OSError as error:  # ssl.SSLError is one too
            if conn.ex is None:
                self._drop(conn)
            else:
                self._fail(conn.ex, error, retry=True)
            return
        ex = conn.ex
        if data:
            if ex is not None:
                self._take(ex, data)
            else:  # stray bytes on an idle connection: the next response starts with them
                conn.buf += data
        if ended:
            if conn.ex is not None:
                self._closed(conn.ex)
            else:  # the server closed an idle connection (or the one just answered)
                self._drop(conn)

    def _take(self, ex: Exchange, data: bytes) -> None:
        """``data`` read for ``ex`` (``b""``: parse what its reader holds already)."""
        reader = ex.reader
        assert reader is not None
        try:
            if not reader.feed(data):
                return
        except BaseException as error:  # noqa: BLE001 - a malformed answer
            self._fail(ex, error, retry=False)
            return
        self._finish(ex)

    def _closed(self, ex: Exchange) -> None:
        """The peer closed ``ex``'s connection: a close-delimited body's end, or an error."""
        reader = ex.reader
        assert reader is not None
        try:
            reader.eof()
        except BaseException as error:  # noqa: BLE001 - a truncated answer
            self._fail(ex, error, retry=True)
            return
        self._finish(ex)

    def _finish(self, ex: Exchange) -> None:
        conn, reader = ex.conn, ex.reader
        assert conn is not None and reader is not None
        ex.finished = True
        ex.conn = conn.ex = None
        connect_us, conn.connect_us = conn.connect_us, -1
        if reader.keep and not ex.pending:
            conn.buf = reader.rest
            self._idle.append(conn)
        else:
            conn.close()
        done, ex.done, ex.reader, ex.sink = ex.done, _ended, None, None  # no cycle through done
        done(reader.response(connect_us), None)

    def _fail(self, ex: Exchange, error: BaseException, retry: bool) -> None:
        """End ``ex`` with ``error``, or send it once more on a new connection when its reused
        socket was found closed before any byte of the answer (``client.Http1Pool``'s rule)."""
        if ex.finished:
            return
        conn, ex.conn = ex.conn, None
        if conn is not None:
            conn.close()
        reader = ex.reader
        if (
            retry
            and isinstance(error, STALE)
            and conn is not None
            and conn.reused
            and not ex.retried
            and (reader is None or not reader.received)
        ):
            ex.retried = True
            gevent.spawn_raw(self._connect, ex)
            return
        ex.finished = True
        done, ex.done, ex.reader, ex.sink = ex.done, _ended, None, None
        done(None, error)

    def _drop(self, conn: _Conn) -> None:
        """Close an idle connection the server closed (or broke)."""
        if conn in self._idle:
            self._idle.remove(conn)
        conn.close()

    def _sweep(self) -> None:
        """Fail what passed its deadline; forget what finished (oldest first)."""
        by_start = self._by_start
        now = time.monotonic()
        while by_start:
            ex = by_start[0]
            if not ex.finished:
                if ex.deadline > now:
                    return
                self._fail(ex, TimeoutError("request timed out"), retry=False)
            by_start.popleft()


__all__ = ["Exchange", "LoopHttp"]
