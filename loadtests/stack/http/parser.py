"""Incremental HTTP/1.x request parser and response encoder for the stand-in's asyncio server."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from email.utils import formatdate

__all__ = [
    "LAST_CHUNK",
    "BadRequest",
    "Request",
    "RequestParser",
    "Response",
    "StreamingResponse",
    "encode_chunk",
    "encode_response",
    "encode_stream_head",
]

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
# Ends a chunked body (no trailers).
LAST_CHUNK = b"0\r\n\r\n"

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}

# RFC 9110 token characters for the method; the target is any run of visible characters.
_REQUEST_LINE_RE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP/(\d)\.(\d)")
_HEADER_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, slots=True)
class Request:
    """One complete request; header names are lower-case, repeated headers joined by ', '."""

    method: str
    path: str
    query: str
    http11: bool
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


@dataclass(frozen=True, slots=True)
class BadRequest:
    """A request the parser rejected; the connection must answer ``status`` and then close."""

    status: int
    message: str


@dataclass(frozen=True, slots=True)
class Response:
    """What a handler answers; ``headers`` are extra (name, value) pairs beyond the framing ones."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class StreamingResponse:
    """A response whose body is written as it is produced, one HTTP chunk per item of ``chunks``."""

    status: int
    chunks: AsyncGenerator[bytes, None]
    content_type: str = "text/event-stream"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class _Head:
    method: str
    path: str
    query: str
    http11: bool
    headers: dict[str, str]
    content_length: int
    keep_alive: bool


class RequestParser:
    """Feed it bytes as they arrive; it returns every request completed so far, in order.

    After the first BadRequest the parser stops: the stream can no longer be framed.
    """

    __slots__ = ("_buffer", "_pending", "_failed", "_max_header_bytes", "_max_body_bytes")

    def __init__(
        self, *, max_header_bytes: int = MAX_HEADER_BYTES, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self._buffer = bytearray()
        self._pending: _Head | None = None
        self._failed = False
        self._max_header_bytes = max_header_bytes
        self._max_body_bytes = max_body_bytes

    def feed(self, data: bytes) -> list[Request | BadRequest]:
        """Consume ``data``; return the requests (or one final BadRequest) it completed."""
        if self._failed:
            return []
        buf = self._buffer
        buf += data
        out: list[Request | BadRequest] = []
        while True:
            head = self._pending
            if head is None:
                # RFC 9112 2.2: tolerate empty lines before a request line (old clients send them).
                while buf[:2] == b"\r\n":
                    del buf[:2]
                end = buf.find(b"\r\n\r\n")
                if end < 0 or end > self._max_header_bytes:
                    if len(buf) > self._max_header_bytes:
                        out.append(self._fail(431, "request head larger than 64 KiB"))
                    break
                parsed = _parse_head(bytes(buf[:end]), self._max_body_bytes)
                del buf[: end + 4]
                if isinstance(parsed, BadRequest):
                    out.append(self._fail(parsed.status, parsed.message))
                    break
                head = self._pending = parsed
            size = head.content_length
            if len(buf) < size:
                break
            body = bytes(buf[:size])
            del buf[:size]
            self._pending = None
            out.append(
                Request(
                    head.method,
                    head.path,
                    head.query,
                    head.http11,
                    head.headers,
                    body,
                    head.keep_alive,
                )
            )
        return out

    def _fail(self, status: int, message: str) -> BadRequest:
        self._failed = True
        self._buffer.clear()
        return BadRequest(status, message)


def _parse_head(raw: bytes, max_body_bytes: int) -> _Head | BadRequest:
    lines = raw.decode("latin-1").split("\r\n")
    match = _REQUEST_LINE_RE.fullmatch(lines[0])
    if match is None:
        return BadRequest(400, f"malformed request line {lines[0][:80]!r}")
    method, target, major, minor = match.groups()
    if major != "1":
        return BadRequest(505, f"HTTP/{major}.{minor} is not supported; use HTTP/1.1")
    http11 = minor != "0"
    if not target.startswith("/"):
        if not target.startswith(("http://", "https://")):
            return BadRequest(400, f"malformed request target {target[:80]!r}")
        slash = target.find("/", target.index("//") + 2)
        target = "/" if slash < 0 else target[slash:]
    path, _, query = target.partition("?")

    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or _HEADER_NAME_RE.fullmatch(name) is None:
            return BadRequest(400, f"malformed header line {line[:80]!r}")
        name = name.lower()
        value = value.strip(" \t")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value

    if "transfer-encoding" in headers:
        if "content-length" in headers:
            return BadRequest(400, "both Transfer-Encoding and Content-Length given")
        return BadRequest(411, "chunked request bodies are not supported; send Content-Length")
    length_text = headers.get("content-length")
    if length_text is None:
        if method in _METHODS_WITH_BODY:
            return BadRequest(411, f"{method} needs a Content-Length header")
        content_length = 0
    else:
        values = {v.strip() for v in length_text.split(",")}
        value = values.pop()
        if values or not (value.isascii() and value.isdigit()):
            return BadRequest(400, f"invalid Content-Length {length_text[:40]!r}")
        content_length = int(value)
        if content_length > max_body_bytes:
            return BadRequest(
                413, f"request body of {content_length} bytes exceeds {max_body_bytes} bytes"
            )

    tokens = headers.get("connection", "").lower()
    keep_alive = "close" not in tokens if http11 else "keep-alive" in tokens
    return _Head(method, path, query, http11, headers, content_length, keep_alive)


class _DateHeader:
    """The IMF-fixdate for the Date header, recomputed at most once per second."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._value = formatdate(second, usegmt=True)
        return self._value


_DATE = _DateHeader()


def _encode_head(
    status: int,
    content_type: str,
    headers: tuple[tuple[str, str], ...],
    framing: str,
    *,
    keep_alive: bool,
    http11: bool,
) -> bytes:
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
    if not keep_alive:
        extra += "Connection: close\r\n"
    elif not http11:
        extra += "Connection: keep-alive\r\n"
    return (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"
        f"Date: {_DATE.now()}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"{framing}"
        f"{extra}\r\n"
    ).encode("latin-1")


def encode_response(
    response: Response, *, keep_alive: bool, http11: bool = True, head_only: bool = False
) -> bytes:
    """Serialise ``response`` as HTTP/1.1 bytes with the framing headers for this connection."""
    body = response.body
    head = _encode_head(
        response.status,
        response.content_type,
        response.headers,
        f"Content-Length: {len(body)}\r\n",
        keep_alive=keep_alive,
        http11=http11,
    )
    return head if head_only else head + body


def encode_stream_head(response: StreamingResponse, *, keep_alive: bool, http11: bool) -> bytes:
    """The head of a streamed response: chunked for HTTP/1.1, else the body ends at close.

    An HTTP/1.0 client cannot read chunks, so its stream is close-delimited (keep_alive ignored).
    """
    return _encode_head(
        response.status,
        response.content_type,
        (("Cache-Control", "no-cache"), *response.headers),
        "Transfer-Encoding: chunked\r\n" if http11 else "",
        keep_alive=keep_alive and http11,
        http11=http11,
    )


def encode_chunk(data: bytes) -> bytes:
    """One chunk of a chunked body; ``data`` must not be empty (a 0-size chunk ends the body)."""
    return b"%x\r\n%b\r\n" % (len(data), data)
