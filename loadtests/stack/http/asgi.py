"""The stand-in's apps behind ASGI, served by uvicorn (httptools, uvloop) instead of server.py.

:class:`AsgiAdapter` turns an ASGI request into the parser's :class:`Request`, calls the app's
``handle`` (awaiting it when it returns a coroutine) and sends its Response or
StreamingResponse (one chunk per item, chunked framing by uvicorn); uvicorn does the parsing,
keep-alive and HEAD bodies. :func:`listen_asgi` serves an app on a port of the running loop,
with ``/metrics`` from prometheus_client's ASGI app when given a registry. uvicorn is optional:
it is imported only when a server starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from loadtests.errors import StackError
from loadtests.stack.http.parser import (
    MAX_BODY_BYTES,
    BadRequest,
    Request,
    Response,
    StreamingResponse,
)
from loadtests.stack.http.server import App

if TYPE_CHECKING:
    import uvicorn
    from prometheus_client import CollectorRegistry

__all__ = ["AsgiAdapter", "AsgiApp", "UvicornServer", "listen_asgi", "start_uvicorn"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The lean server keeps idle connections for ever; uvicorn's 5 s default closes pooled
# connections between sparse requests, and a request sent as the close lands fails.
KEEP_ALIVE_S = 3600
BACKLOG = 2048
# On stop, a stream waiting this long for its next chunk is cancelled (uvicorn logs it).
GRACEFUL_STOP_S = 1
_CLOSE = (b"connection", b"close")


def _too_large(limit: int) -> BadRequest:
    return BadRequest(413, f"request body exceeds {limit} bytes")


def _header(name: str, value: str) -> tuple[bytes, bytes]:
    return name.encode("latin-1"), value.encode("latin-1")


class AsgiAdapter:
    """An ASGI application answering with an :class:`App` of the lean server."""

    __slots__ = ("_app", "_max_body_bytes")

    def __init__(self, app: App, *, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._app = app
        self._max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; nothing else is spoken here
            return
        request = await self._request(scope, receive)
        if isinstance(request, BadRequest):
            await _send_response(send, self._app.reject(request), close=True)
            return
        try:
            answer = self._app.handle(request)
            if not isinstance(answer, Response | StreamingResponse):
                answer = await answer
        except Exception as exc:  # a handler bug answers 500 and closes, as server.py does
            failed = BadRequest(500, f"handler failed: {exc!r}")
            await _send_response(send, self._app.reject(failed), close=True)
            return
        if isinstance(answer, Response):
            await _send_response(send, answer)
        else:
            await _send_stream(send, receive, answer, head_only=request.method == "HEAD")

    async def _request(self, scope: Scope, receive: Receive) -> Request | BadRequest:
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        limit = self._max_body_bytes
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            return _too_large(limit)
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > limit:
                return _too_large(limit)
            if not message.get("more_body", False):
                break
        http11 = scope.get("http_version", "1.1") != "1.0"
        tokens = headers.get("connection", "").lower()
        raw_path = scope.get("raw_path")
        return Request(
            method=scope["method"],
            # The path as sent (uvicorn's scope["path"] is percent-decoded; the parser's is not).
            path=raw_path.decode("latin-1") if raw_path else scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            http11=http11,
            headers=headers,
            body=body,
            keep_alive="close" not in tokens if http11 else "keep-alive" in tokens,
        )


async def _send_response(send: Send, response: Response, *, close: bool = False) -> None:
    body = response.body
    headers = [
        (b"content-type", response.content_type.encode("latin-1")),
        (b"content-length", b"%d" % len(body)),
        *(_header(name, value) for name, value in response.headers),
    ]
    if close:
        headers.append(_CLOSE)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_stream(
    send: Send, receive: Receive, response: StreamingResponse, *, head_only: bool
) -> None:
    """The head, then each chunk as produced; stops early when the client goes away."""
    headers = [
        (b"content-type", response.content_type.encode("latin-1")),
        (b"cache-control", b"no-cache"),
        *(_header(name, value) for name, value in response.headers),
    ]
    async with contextlib.aclosing(response.chunks) as chunks:
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if not head_only:
            # uvicorn's send ignores a closed connection; receive() says when it closed.
            gone = asyncio.ensure_future(receive())
            try:
                async for data in chunks:
                    if gone.done():
                        return
                    if data:
                        await send({"type": "http.response.body", "body": data, "more_body": True})
            finally:
                gone.cancel()
        await send({"type": "http.response.body", "body": b""})


class UvicornServer:
    """A uvicorn server listening on the running loop; ``close`` stops it."""

    def __init__(self, server: uvicorn.Server, sock: socket.socket, ticker: asyncio.Task[None]):
        self._server = server
        self._sock = sock
        self._ticker = ticker

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful after asking for port 0)."""
        return int(self._sock.getsockname()[1])

    async def close(self) -> None:
        """Stop listening and close every connection at once, as server.py does."""
        server = self._server
        server.should_exit = True
        await self._ticker
        for connection in list(server.server_state.connections):
            connection.transport.close()  # a stream in flight stops at its next chunk
        await server.shutdown(sockets=[self._sock])


async def start_uvicorn(app: AsgiApp, host: str, port: int, what: str) -> UvicornServer:
    """Serve ``app`` with uvicorn (httptools) on ``host:port`` of the running loop.

    StackError naming ``what`` when the port is taken (uvicorn itself would exit the process).
    """
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StackError(
            f"cannot listen for {what} on {host} port {port}: {exc}; "
            "free the port or pass 0 to pick a free one"
        ) from exc
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="off",
        interface="asgi3",
        access_log=False,
        log_level="warning",
        proxy_headers=False,  # no middleware between uvicorn and the adapter
        server_header=False,
        backlog=BACKLOG,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=GRACEFUL_STOP_S,
    )
    config.load()
    server = uvicorn.Server(config)
    # serve()'s steps without its signal handlers, which would take SIGINT and SIGTERM over.
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    # The main loop only refreshes the Date header each second and watches should_exit.
    ticker = asyncio.ensure_future(server.main_loop())
    return UvicornServer(server, sock, ticker)


def _metrics_router(registry: CollectorRegistry, fallback: AsgiApp) -> AsgiApp:
    """``GET|HEAD /metrics`` from prometheus_client's ASGI app, anything else from ``fallback``."""
    from prometheus_client import make_asgi_app

    exposition: AsgiApp = make_asgi_app(registry)

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        wanted = scope.get("path") == "/metrics" and scope.get("method") in ("GET", "HEAD")
        await (exposition if wanted else fallback)(scope, receive, send)

    return route


async def listen_asgi(
    app: App,
    host: str,
    port: int,
    what: str,
    *,
    metrics_registry: CollectorRegistry | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> UvicornServer:
    """Serve ``app`` under uvicorn, ``/metrics`` from ``metrics_registry`` when given."""
    asgi: AsgiApp = AsgiAdapter(app, max_body_bytes=max_body_bytes)
    if metrics_registry is not None:
        asgi = _metrics_router(metrics_registry, asgi)
    return await start_uvicorn(asgi, host, port, what)
