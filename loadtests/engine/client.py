"""A lean HTTP/1.1 client for the generator: pre-built request bytes, pooled keep-alive sockets.

General clients parse and copy more than a load generator needs; at 1000 req/s on a shared
2-core machine each microsecond of client work is measurement noise and generator CPU. This one
sends bytes built once per distinct request, marks the first response byte, and understands
Content-Length, chunked and close-delimited bodies.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

_RECV_BYTES = 65536
BodySink = Callable[[bytes], None]


class HttpProtocolError(Exception):
    """The peer sent something that is not an HTTP/1.x response."""


class ConnectionClosed(ConnectionError):
    """The peer closed the connection before a whole response arrived."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body_bytes: int
    ttfb_us: int


def build_request(
    method: str, path: str, host_header: str, body: bytes, headers: dict[str, str]
) -> bytes:
    """The wire form of one request (headers from ``headers`` win over the defaults)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host_header}", "User-Agent: edgeperf"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Conn:
    __slots__ = ("buf", "reused", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.reused = False


class Http1Pool:
    """Keep-alive connections to one origin; ``request`` is safe to call from many greenlets."""

    def __init__(self, base_url: str, timeout_s: float, now_us: Callable[[], int]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http":
            raise ValueError(f"only http:// targets are supported by the lean client: {base_url}")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.host_header = parts.netloc
        self.timeout_s = timeout_s
        self._now_us = now_us
        self._idle: list[_Conn] = []

    def _connect(self) -> _Conn:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Conn(sock)

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.sock.close()

    def request(self, raw: bytes, body_sink: BodySink | None = None) -> Response:
        """Send ``raw`` and read the whole response; retries once on a stale kept-alive socket.

        ``body_sink`` receives the decoded body bytes as they arrive (for streamed responses).
        """
        deadline = time.monotonic() + self.timeout_s
        conn = self._idle.pop() if self._idle else self._connect()
        try:
            return self._exchange(conn, raw, deadline, body_sink)
        except ConnectionClosed:
            if not conn.reused:
                raise
            conn = self._connect()
            return self._exchange(conn, raw, deadline, body_sink)

    def _exchange(
        self, conn: _Conn, raw: bytes, deadline: float, sink: BodySink | None
    ) -> Response:
        sock = conn.sock
        keep = False
        try:
            sock.sendall(raw)
            ttfb_us = -1
            buf = conn.buf
            while True:
                end = buf.find(b"\r\n\r\n")
                if end >= 0:
                    break
                chunk = self._recv(sock, deadline)
                if ttfb_us < 0:
                    ttfb_us = self._now_us()
                if not chunk:
                    raise ConnectionClosed("connection closed before the response headers")
                buf += chunk
            status, headers = _parse_head(buf[:end])
            rest = buf[end + 4 :]
            length = headers.get("content-length")
            if headers.get("transfer-encoding", "").lower().endswith("chunked"):
                body_bytes, rest = self._read_chunked(sock, rest, deadline, sink)
                keep = True
            elif length is not None:
                need = int(length)
                if sink is not None and rest:
                    sink(rest[:need])
                while len(rest) < need:
                    chunk = self._recv(sock, deadline)
                    if not chunk:
                        raise ConnectionClosed("connection closed inside the response body")
                    if sink is not None:
                        sink(chunk[: need - len(rest)])
                    rest += chunk
                body_bytes, rest = need, rest[need:]
                keep = True
            else:  # body ends when the peer closes
                body_bytes = len(rest)
                if sink is not None and rest:
                    sink(rest)
                while chunk := self._recv(sock, deadline):
                    body_bytes += len(chunk)
                    if sink is not None:
                        sink(chunk)
                rest = b""
            if headers.get("connection", "").lower() == "close":
                keep = False
            conn.buf = rest
            return Response(status, headers, body_bytes, ttfb_us)
        finally:
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
        return sock.recv(_RECV_BYTES)

    def _read_chunked(
        self, sock: socket.socket, rest: bytes, deadline: float, sink: BodySink | None
    ) -> tuple[int, bytes]:
        total = 0
        while True:
            while (eol := rest.find(b"\r\n")) < 0:
                rest += self._more(sock, deadline)
            size = int(rest[:eol].split(b";", 1)[0], 16)
            rest = rest[eol + 2 :]
            if size == 0:
                while (end := rest.find(b"\r\n")) != 0:  # trailers, then the blank line
                    if end < 0:
                        rest += self._more(sock, deadline)
                    else:
                        rest = rest[end + 2 :]
                return total, rest[2:]
            while len(rest) < size + 2:
                rest += self._more(sock, deadline)
            if sink is not None:
                sink(rest[:size])
            total += size
            rest = rest[size + 2 :]

    def _more(self, sock: socket.socket, deadline: float) -> bytes:
        chunk = self._recv(sock, deadline)
        if not chunk:
            raise ConnectionClosed("connection closed inside a chunked body")
        return chunk


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpProtocolError(f"malformed status line {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


__all__ = ["ConnectionClosed", "Http1Pool", "HttpProtocolError", "Response", "build_request"]
