"""A lean asyncio HTTP/1.1 server: a Protocol per connection, keep-alive, in-order pipelining."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import deque
from collections.abc import Coroutine
from typing import Any, Protocol, cast

from loadtests.stack.http.parser import (
    LAST_CHUNK,
    MAX_BODY_BYTES,
    BadRequest,
    Request,
    RequestParser,
    Response,
    StreamingResponse,
    encode_chunk,
    encode_response,
    encode_stream_head,
)

__all__ = ["App", "Answer", "HttpConnection", "ServerHandle", "start_server"]

# Pipelined requests parsed ahead of the one in flight; past this we stop reading the socket.
MAX_QUEUED_REQUESTS = 64

Answer = Response | StreamingResponse


class App(Protocol):
    """What the server calls: ``handle`` answers now or returns a coroutine; ``reject`` a 4xx.

    A StreamingResponse is written chunk by chunk as its iterator yields.
    """

    def handle(self, request: Request) -> Answer | Coroutine[Any, Any, Answer]: ...

    def reject(self, bad: BadRequest) -> Response: ...


class HttpConnection(asyncio.Protocol):
    """One client connection: parses requests, answers them strictly in arrival order."""

    __slots__ = (
        "_app",
        "_connections",
        "_parser",
        "_transport",
        "_queue",
        "_task",
        "_closing",
        "_reading",
        "_write_paused",
        "_drained",
        "_eof",
    )

    def __init__(
        self, app: App, connections: set[HttpConnection], max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self._app = app
        self._connections = connections
        self._parser = RequestParser(max_body_bytes=max_body_bytes)
        self._transport: asyncio.Transport | None = None
        self._queue: deque[Request | BadRequest] = deque()
        self._task: asyncio.Future[Answer | None] | None = None
        self._closing = False
        self._reading = True
        self._write_paused = False
        self._drained: asyncio.Future[None] | None = None
        self._eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so no isinstance check here.
        self._transport = cast(asyncio.Transport, transport)
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._connections.discard(self)
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._wake_writer()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._queue.extend(self._parser.feed(data))
        if self._task is None:
            self._pump()
        self._update_reading()

    def eof_received(self) -> bool | None:
        # A half-closed client still gets the answers to what it already sent.
        self._eof = True
        if self._task is None and not self._queue:
            self.close()
        return True

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_writer()
        self._update_reading()

    def _wake_writer(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def close(self) -> None:
        """Close the connection once buffered responses are flushed."""
        self._closing = True
        self._queue.clear()
        if self._transport is not None:
            self._transport.close()

    def _pump(self) -> None:
        queue = self._queue
        while queue and not self._closing:
            item = queue.popleft()
            if isinstance(item, BadRequest):
                self._send(self._app.reject(item), None)
                return
            try:
                result = self._app.handle(item)
            except Exception as exc:  # a handler bug must not kill the loop, only this connection
                self._send(self._app.reject(BadRequest(500, f"handler failed: {exc!r}")), None)
                return
            if isinstance(result, Response):
                self._send(result, item)
                continue
            if isinstance(result, StreamingResponse):
                self._wait_for(self._stream(result, item), item)
            else:
                self._wait_for(result, item)
            return
        if self._eof and self._task is None:
            self.close()

    def _wait_for(self, work: Coroutine[Any, Any, Answer | None], request: Request) -> None:
        task = asyncio.ensure_future(work)
        self._task = task
        task.add_done_callback(functools.partial(self._on_done, request))

    def _on_done(self, request: Request, task: asyncio.Future[Answer | None]) -> None:
        if task is not self._task:
            return
        self._task = None
        if task.cancelled() or self._closing:
            return
        exc = task.exception()
        if exc is not None:
            self._send(self._app.reject(BadRequest(500, f"handler failed: {exc!r}")), None)
            return
        result = task.result()
        if isinstance(result, StreamingResponse):
            self._wait_for(self._stream(result, request), request)
            return
        if result is not None:
            self._send(result, request)
        self._pump()
        self._update_reading()

    async def _stream(self, response: StreamingResponse, request: Request) -> None:
        """Write the head, then each chunk as soon as it is produced, then the last chunk."""
        transport = self._transport
        chunked = request.http11
        keep_alive = request.keep_alive and chunked
        async with contextlib.aclosing(response.chunks) as chunks:
            if transport is None or self._closing:
                return
            transport.write(encode_stream_head(response, keep_alive=keep_alive, http11=chunked))
            if request.method != "HEAD":
                try:
                    async for data in chunks:
                        if self._closing:
                            return
                        if data:
                            transport.write(encode_chunk(data) if chunked else data)
                        if self._write_paused:
                            self._drained = asyncio.get_running_loop().create_future()
                            await self._drained
                except Exception:
                    # Half a body cannot be followed by an error answer: cut the connection, so
                    # the client sees a broken stream; the task's exception is still logged.
                    self.close()
                    raise
                if chunked:
                    transport.write(LAST_CHUNK)
        if not keep_alive:
            self.close()

    def _send(self, response: Response, request: Request | None) -> None:
        transport = self._transport
        if transport is None or self._closing:
            return
        if request is None:
            transport.write(encode_response(response, keep_alive=False))
            self.close()
            return
        transport.write(
            encode_response(
                response,
                keep_alive=request.keep_alive,
                http11=request.http11,
                head_only=request.method == "HEAD",
            )
        )
        if not request.keep_alive:
            self.close()

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None or self._closing:
            return
        wanted = not self._write_paused and len(self._queue) < MAX_QUEUED_REQUESTS
        if wanted != self._reading:
            self._reading = wanted
            if wanted:
                transport.resume_reading()
            else:
                transport.pause_reading()


class ServerHandle:
    """A listening server and its open connections, so shutdown can close both."""

    def __init__(self, server: asyncio.Server, connections: set[HttpConnection]) -> None:
        self.server = server
        self.connections = connections

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful after asking for port 0)."""
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening, close every connection and wait for the server to finish."""
        self.server.close()
        for connection in list(self.connections):
            connection.close()
        await self.server.wait_closed()


async def start_server(
    app: App, host: str, port: int, *, backlog: int = 1024, max_body_bytes: int = MAX_BODY_BYTES
) -> ServerHandle:
    """Listen on ``host:port`` (0 picks a free port) and serve ``app`` on the running loop."""
    loop = asyncio.get_running_loop()
    connections: set[HttpConnection] = set()
    server = await loop.create_server(
        lambda: HttpConnection(app, connections, max_body_bytes), host, port, backlog=backlog
    )
    return ServerHandle(server, connections)
