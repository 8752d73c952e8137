"""A lean HTTP/1.1 client for the generator: pre-built request bytes, pooled keep-alive sockets.

General clients parse and copy more than a load generator needs; at 1000 req/s on a shared
2-core machine each microsecond of client work is measurement noise and generator CPU. This one
sends bytes built once per distinct request, marks the first response byte, and understands
Content-Length, chunked and close-delimited bodies, responses that have no body (1xx, 204, 304
and answers to HEAD: RFC 9110 §6.4.1), and TLS (https://), kept alive like plain connections.

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
from dataclasses import dataclass
from urllib.parse import urlsplit

_RECV_BYTES = 65536
_NO_BODY_STATUSES = (204, 304)
BodySink = Callable[[bytes], None]


class HttpProtocolError(Exception):
    """The peer sent something that is not an HTTP/1.x response."""


class ConnectionClosed(ConnectionError):
    """The peer closed the connection before a whole response arrived."""


# How a server's close of an idle kept-alive socket shows when the next request uses it.
_STALE = (ConnectionClosed, ConnectionResetError)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body_bytes: int
    ttfb_us: int  # when the first byte of the final (not 1xx) response arrived
    connect_us: int = -1  # TCP connect + TLS handshake of a new connection; -1: reused one


def tls_context(ca_file: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    """Client TLS settings: certificate and host name verified against ``ca_file`` (PEM; else
    the system's CAs), or nothing verified when ``insecure``."""
    context = ssl.create_default_context(cafile=ca_file)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


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
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"expected an http:// or https:// target, got {base_url}")
        https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if https else 80)
        self.host_header = parts.netloc
        self.timeout_s = timeout_s
        self._now_us = now_us
        self._tls = tls_context(ca_file, insecure) if https else None
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
        except _STALE:
            if not conn.reused or conn.received:
                raise
        return self._exchange(self._connect(deadline), raw, deadline, body_sink)

    def _exchange(
        self, conn: _Conn, raw: bytes, deadline: float, sink: BodySink | None
    ) -> Response:
        sock = conn.sock
        keep = False
        try:
            conn.received = bool(conn.buf)
            sock.sendall(raw)
            version, status, headers, rest, ttfb_us = self._read_head(conn, deadline)
            framed = True  # the body's end is known, so the connection can carry another request
            if raw.startswith(b"HEAD ") or status < 200 or status in _NO_BODY_STATUSES:
                body_bytes = 0
                framed = status != 101  # after a 101 the connection speaks another protocol
            elif headers.get("transfer-encoding", "").lower().endswith("chunked"):
                body_bytes, rest = self._read_chunked(sock, rest, deadline, sink)
            elif (length := headers.get("content-length")) is not None:
                body_bytes, rest = self._read_length(sock, rest, int(length), deadline, sink)
            else:  # the body ends when the peer closes
                body_bytes = self._read_to_close(sock, rest, deadline, sink)
                rest, framed = b"", False
            tokens = headers.get("connection", "").lower()
            closing = "close" in tokens or (version == "HTTP/1.0" and "keep-alive" not in tokens)
            keep = framed and not closing
            conn.buf = rest
            connect_us, conn.connect_us = conn.connect_us, -1
            return Response(status, headers, body_bytes, ttfb_us, connect_us)
        finally:
            if keep:
                conn.reused = True
                self._idle.append(conn)
            else:
                sock.close()

    def _read_head(
        self, conn: _Conn, deadline: float
    ) -> tuple[str, int, dict[str, str], bytes, int]:
        """The final response's version, status and headers, the bytes after them, its TTFB.

        Interim 1xx responses (100 Continue, 103 Early Hints) are skipped; 101 is final.
        """
        buf = conn.buf
        ttfb_us = -1
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                chunk = self._recv(conn.sock, deadline)
                if not chunk:
                    where = "inside" if conn.received else "before"
                    raise ConnectionClosed(f"connection closed {where} the response headers")
                conn.received = True
                if ttfb_us < 0:
                    ttfb_us = self._now_us()
                buf += chunk
                continue
            version, status, headers = _parse_head(buf[:end])
            buf = buf[end + 4 :]
            if 100 <= status < 200 and status != 101:
                ttfb_us = ttfb_us if buf else -1  # the final response starts with the next read
                continue
            return version, status, headers, buf, ttfb_us

    def _recv(self, sock: socket.socket, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request timed out")
        sock.settimeout(remaining)
        return sock.recv(_RECV_BYTES)

    def _read_length(
        self, sock: socket.socket, rest: bytes, need: int, deadline: float, sink: BodySink | None
    ) -> tuple[int, bytes]:
        if sink is not None and rest:
            sink(rest[:need])
        while len(rest) < need:
            chunk = self._recv(sock, deadline)
            if not chunk:
                raise ConnectionClosed("connection closed inside the response body")
            if sink is not None:
                sink(chunk[: need - len(rest)])
            rest += chunk
        return need, rest[need:]

    def _read_to_close(
        self, sock: socket.socket, rest: bytes, deadline: float, sink: BodySink | None
    ) -> int:
        body_bytes = len(rest)
        if sink is not None and rest:
            sink(rest)
        while chunk := self._recv(sock, deadline):
            body_bytes += len(chunk)
            if sink is not None:
                sink(chunk)
        return body_bytes

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


def _parse_head(head: bytes) -> tuple[str, int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpProtocolError(f"malformed status line {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return parts[0], int(parts[1]), headers


__all__ = [
    "ConnectionClosed",
    "Http1Pool",
    "HttpProtocolError",
    "Response",
    "build_request",
    "header_us",
    "request_body_bytes",
    "tls_context",
]
