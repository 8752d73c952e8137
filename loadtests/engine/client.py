"""A lean HTTP/1.1 client for the generator, a greenlet a request (EDGEPERF_CLIENT=greenlet):
pre-built request bytes, pooled keep-alive sockets. By default ``loopclient`` sends instead.

General clients parse and copy more than a load generator needs; at 1000 req/s on a shared
2-core machine each microsecond of client work is measurement noise and generator CPU. This one
sends bytes built once per distinct request and reads the answer with ``response.ResponseReader``
(Content-Length, chunked and close-delimited bodies, responses without a body), over plain TCP
or TLS (https://), kept alive alike.

A request is sent again, once, on a new connection only when a reused keep-alive socket ends
before any byte of the response arrived: the server dropped the idle connection as the request
left. Once a byte has arrived the server has answered; a close then is an error, because a second
send would post a request twice and feed a stream's tokens twice.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from loadtests.engine.response import (
    BodySink,
    ConnectionClosed,
    HttpProtocolError,
    Response,
    ResponseReader,
)

RECV_BYTES = 65536  # the most a read takes from a socket at once

# How a server's close of an idle kept-alive socket shows when the next request uses it.
STALE = (ConnectionClosed, ConnectionResetError)


def tls_context(ca_file: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    """Client TLS settings: certificate and host name verified against ``ca_file`` (PEM; else
    the system's CAs), or nothing verified when ``insecure``."""
    context = ssl.create_default_context(cafile=ca_file)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


def origin(
    base_url: str, ca_file: str | None = None, insecure: bool = False
) -> tuple[str, int, ssl.SSLContext | None]:
    """Host, port and TLS settings (None: plain HTTP) of an http:// or https:// URL."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"expected an http:// or https:// target, got {base_url}")
    https = parts.scheme == "https"
    tls = tls_context(ca_file, insecure) if https else None
    return parts.hostname or "127.0.0.1", parts.port or (443 if https else 80), tls


def build_request(
    method: str, path: str, host_header: str, body: bytes, headers: dict[str, str]
) -> bytes:
    """The wire form of one request (headers from ``headers`` win over the defaults)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host_header}", "User-Agent: edgeperf"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def request_body_bytes(raw: bytes) -> int:
    """Bytes of the body of a request built by ``build_request``."""
    return len(raw) - raw.find(b"\r\n\r\n") - 4


def header_us(headers: dict[str, str], name: str) -> int:
    """A millisecond timing header as integer microseconds; -1 when absent or unreadable."""
    value = headers.get(name) if name else None
    if value is None:
        return -1
    try:
        return round(float(value) * 1000)
    except ValueError:
        return -1


class _Conn:
    __slots__ = ("buf", "connect_us", "received", "reused", "sock")

    def __init__(self, sock: socket.socket, connect_us: int) -> None:
        self.sock = sock
        self.buf = b""
        self.reused = False
        self.received = False  # a byte of the current response has arrived
        self.connect_us = connect_us


class Http1Pool:
    """Keep-alive connections to one origin; ``request`` is safe to call from many greenlets.

    ``https://`` origins are verified (see ``tls_context``), with SNI the URL's host name.
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
        self.host_header = urlsplit(base_url).netloc
        self.timeout_s = timeout_s
        self._now_us = now_us
        self._idle: list[_Conn] = []

    def _connect(self, deadline: float) -> _Conn:
        start_us = self._now_us()
        timeout_s = max(deadline - time.monotonic(), 1e-3)
        sock = socket.create_connection((self.host, self.port), timeout=timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            try:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        return _Conn(sock, self._now_us() - start_us)

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.sock.close()

    def request(self, raw: bytes, body_sink: BodySink | None = None) -> Response:
        """Send ``raw`` and read the whole response; retries once on a stale kept-alive socket.

        ``body_sink`` receives the decoded body bytes as they arrive (for streamed responses).
        """
        deadline = time.monotonic() + self.timeout_s
        conn = self._idle.pop() if self._idle else self._connect(deadline)
        try:
            return self._exchange(conn, raw, deadline, body_sink)
        except STALE:
            if not conn.reused or conn.received:
                raise
        return self._exchange(self._connect(deadline), raw, deadline, body_sink)

    def _exchange(
        self, conn: _Conn, raw: bytes, deadline: float, sink: BodySink | None
    ) -> Response:
        sock = conn.sock
        reader = ResponseReader(raw.startswith(b"HEAD "), sink, self._now_us, conn.buf)
        keep = False
        try:
            sock.sendall(raw)
            done = reader.feed(b"")
            while not done:
                chunk = self._recv(sock, deadline)
                if not chunk:
                    reader.eof()
                    break
                done = reader.feed(chunk)
            keep = reader.keep
            conn.buf = reader.rest
            connect_us, conn.connect_us = conn.connect_us, -1
            return reader.response(connect_us)
        finally:
            conn.received = reader.received
            if keep:
                conn.reused = True
                self._idle.append(conn)
            else:
                sock.close()

    def _recv(self, sock: socket.socket, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request timed out")
        sock.settimeout(remaining)
        return sock.recv(RECV_BYTES)


__all__ = [
    "RECV_BYTES",
    "STALE",
    "origin",
    "BodySink",
    "ConnectionClosed",
    "Http1Pool",
    "HttpProtocolError",
    "Response",
    "build_request",
    "header_us",
    "request_body_bytes",
    "tls_context",
]
