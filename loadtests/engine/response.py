"""One HTTP/1.x response, parsed from its bytes as they arrive, whatever reads the socket.

The generator reads plain-HTTP responses in the event loop's callbacks and TLS ones in a greenlet
(``client.Http1Pool``); both feed the bytes they read to a ``ResponseReader``, so framing,
interim responses, time to first byte and what counts as a truncated response are the same.

Framing: Content-Length, chunked and close-delimited bodies, and responses that have no body
(1xx, 204, 304 and answers to HEAD: RFC 9110 §6.4.1). Interim 1xx responses (100 Continue,
103 Early Hints) are skipped; 101 is final.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

BodySink = Callable[[bytes], None]
_NO_BODY_STATUSES = (204, 304)
# What the reader is waiting for
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _TRAILERS, _TO_CLOSE, _DONE = range(7)


class HttpProtocolError(Exception):
    """The peer sent something that is not an HTTP/1.x response."""


class ConnectionClosed(ConnectionError):
    """The peer closed the connection before a whole response arrived."""


class Response(NamedTuple):
    status: int
    headers: dict[str, str]
    body_bytes: int
    ttfb_us: int  # when the first byte of the final (not 1xx) response arrived
    connect_us: int = -1  # TCP connect + TLS handshake of a new connection; -1: reused one


class ResponseReader:
    """Feed the bytes of one response as they arrive; ``feed`` is True once it is whole.

    ``buf``: bytes the connection already held (they do not mark a first byte). Body bytes go to
    ``sink`` as they are framed. After the end, ``rest`` holds bytes that followed the response
    and ``keep`` says whether the connection can carry another request.
    """

    __slots__ = (
        "_need",
        "_now_us",
        "_sink",
        "body_bytes",
        "buf",
        "framed",
        "head_request",
        "headers",
        "received",
        "state",
        "status",
        "ttfb_us",
        "version",
    )

    def __init__(
        self, head_request: bool, sink: BodySink | None, now_us: Callable[[], int], buf: bytes = b""
    ) -> None:
        self.head_request = head_request
        self._sink = sink
        self._now_us = now_us
        self.buf = buf
        self.received = bool(buf)  # a byte of this response has arrived
        self.state = _HEAD
        self.ttfb_us = -1
        self.version = ""
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body_bytes = 0
        self.framed = True  # the body's end is known
        self._need = 0

    def feed(self, data: bytes) -> bool:
        """Take ``data`` (``b""``: parse what the buffer holds); True once the response is whole."""
        if data:
            self.received = True
            if self.state == _HEAD:
                if self.ttfb_us < 0:
                    self.ttfb_us = self._now_us()
            elif self.state == _LENGTH and not self.buf:  # the common case: no copy
                return self._body(data)
            self.buf += data
        return self._advance()

    def eof(self) -> None:
        """The peer closed the connection: the end of a close-delimited body, else an error."""
        state = self.state
        if state in (_TO_CLOSE, _DONE):
            self.state, self.framed = _DONE, False
            return
        if state == _HEAD:
            where = "inside" if self.received else "before"
            raise ConnectionClosed(f"connection closed {where} the response headers")
        if state == _LENGTH:
            raise ConnectionClosed("connection closed inside the response body")
        raise ConnectionClosed("connection closed inside a chunked body")

    @property
    def keep(self) -> bool:
        """Whether the connection can carry another request after this response."""
        if self.state != _DONE or not self.framed:
            return False
        tokens = self.headers.get("connection", "").lower()
        if "close" in tokens:
            return False
        return self.version != "HTTP/1.0" or "keep-alive" in tokens

    @property
    def rest(self) -> bytes:
        return self.buf

    def response(self, connect_us: int = -1) -> Response:
        return Response(self.status, self.headers, self.body_bytes, self.ttfb_us, connect_us)

    def _body(self, data: bytes) -> bool:
        need = self._need
        if len(data) > need:
            data, self.buf = data[:need], data[need:]
        if self._sink is not None and data:
            self._sink(data)
        self.body_bytes += len(data)
        self._need = need - len(data)
        if self._need:
            return False
        self.state = _DONE
        return True

    def _advance(self) -> bool:
        while True:
            state = self.state
            if state == _HEAD:
                if not self._head():
                    return False
            elif state == _LENGTH:
                data, self.buf = self.buf, b""
                return self._body(data)
            elif state == _CHUNK_SIZE:
                buf = self.buf
                eol = buf.find(b"\r\n")
                if eol < 0:
                    return False
                size = int(buf[:eol].split(b";", 1)[0], 16)
                self.buf = buf[eol + 2 :]
                self._need = size
                self.state = _CHUNK_DATA if size else _TRAILERS
            elif state == _CHUNK_DATA:
                buf, size = self.buf, self._need
                if len(buf) < size + 2:
                    return False
                if self._sink is not None:
                    self._sink(buf[:size])
                self.body_bytes += size
                self.buf = buf[size + 2 :]
                self.state = _CHUNK_SIZE
            elif state == _TRAILERS:  # trailers, then the blank line
                end = self.buf.find(b"\r\n")
                if end < 0:
                    return False
                self.buf = self.buf[end + 2 :]
                if end == 0:
                    self.state = _DONE
                    return True
            elif state == _TO_CLOSE:
                buf, self.buf = self.buf, b""
                if buf:
                    self.body_bytes += len(buf)
                    if self._sink is not None:
                        self._sink(buf)
                return False
            else:
                return True

    def _head(self) -> bool:
        """Parse a head if the buffer holds one; False: more bytes are needed."""
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        self.version, status, self.headers = _parse_head(buf[:end])
        self.status = status
        self.buf = buf[end + 4 :]
        if 100 <= status < 200 and status != 101:
            if not self.buf:  # the final response starts with the next read
                self.ttfb_us = -1
            return True
        headers = self.headers
        if self.head_request or status < 200 or status in _NO_BODY_STATUSES:
            self.framed = status != 101  # after a 101 the connection speaks another protocol
            self.state = _DONE
        elif headers.get("transfer-encoding", "").lower().endswith("chunked"):
            self.state = _CHUNK_SIZE
        elif (length := headers.get("content-length")) is not None:
            self._need = int(length)
            self.state = _LENGTH
        else:  # the body ends when the peer closes
            self.state = _TO_CLOSE
        return True


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


__all__ = ["BodySink", "ConnectionClosed", "HttpProtocolError", "Response", "ResponseReader"]
