"""The lean HTTP/1.1 client against a real loopback socket server sending crafted responses."""

import select
import socket
import threading
import time

import pytest

from loadtests.engine.client import ConnectionClosed, Http1Pool, HttpProtocolError, build_request
from tests.loadtests.conftest import HANG_S, wait_until

# Deadline of a request to a crafted server that does answer: reached only on a real hang.
TIMEOUT_S = HANG_S


class CraftedServer:
    """Accepts connections; answers each request with the next scripted list of byte pieces."""

    def __init__(self, script: list[list[bytes]], close_after: bool = False) -> None:
        self.script = list(script)
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed = 0  # connections this server has closed
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._answer(conn)
        finally:
            conn.close()
            self.closed += 1

    def _answer(self, conn: socket.socket) -> None:
        buf = b""
        while self.script:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(buf) < length:
                buf += conn.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + buf[:length])
            buf = buf[length:]
            for piece in self.script.pop(0):
                conn.sendall(piece)
                time.sleep(0.01)
            if self.close_after:
                return

    def close(self) -> None:
        self.sock.close()


def _now_us() -> int:
    return time.time_ns() // 1000


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the peer's FIN has arrived: the socket reads as EOF without blocking."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""


def test_content_length_keep_alive_and_split_reads():
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Cache-Status: HIT\r\n\r\nhello"
    server = CraftedServer([[ok[:10], ok[10:30], ok[30:]], [ok]])
    pool = Http1Pool(server.url, TIMEOUT_S, _now_us)
    raw = build_request("POST", "/v1/chat/completions", "h", b'{"a":1}', {"X-T": "1"})
    first = pool.request(raw)
    second = pool.request(build_request("GET", "/health", "h", b"", {}))
    assert (first.status, first.body_bytes, first.headers["x-cache-status"]) == (200, 5, "HIT")
    assert second.status == 200 and server.connections == 1  # kept alive
    assert server.requests[0].endswith(b'\r\n\r\n{"a":1}')
    assert b"Content-Length: 7" in server.requests[0] and b"X-T: 1" in server.requests[0]
    assert server.requests[1].startswith(b"GET /health HTTP/1.1\r\nHost: h\r\n")
    assert first.ttfb_us > 0
    server.close()


def test_chunked_body_with_trailers():
    body = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: v\r\n\r\n"
    )
    server = CraftedServer(
        [[body[:40], body[40:]], [b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"]]
    )
    pool = Http1Pool(server.url, TIMEOUT_S, _now_us)
    response = pool.request(build_request("GET", "/", "h", b"", {}))
    assert response.body_bytes == 11
    assert pool.request(build_request("GET", "/", "h", b"", {})).status == 204
    assert server.connections == 1
    server.close()


def test_close_delimited_body_and_connection_close():
    server = CraftedServer([[b"HTTP/1.0 200 OK\r\n\r\nabc", b"def"]], close_after=True)
    pool = Http1Pool(server.url, TIMEOUT_S, _now_us)
    assert pool.request(build_request("GET", "/", "h", b"", {})).body_bytes == 6
    server.close()


def test_stale_kept_alive_socket_is_retried_once():
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    server = CraftedServer([[ok], [ok]], close_after=True)  # server closes after each answer
    pool = Http1Pool(server.url, TIMEOUT_S, _now_us)
    assert pool.request(build_request("GET", "/", "h", b"", {})).status == 200
    # The pooled socket is stale only once the server has closed it and its FIN has arrived.
    wait_until(lambda: server.closed == 1, "the server to close the first connection")
    wait_until(lambda: _peer_closed(pool._idle[0].sock), "the close to reach the pooled socket")
    assert pool.request(build_request("GET", "/", "h", b"", {})).status == 200
    assert server.connections == 2
    server.close()


def test_errors_are_raised_not_hidden():
    server = CraftedServer([[b"SSH-2.0-nonsense\r\n\r\n"]])
    pool = Http1Pool(server.url, TIMEOUT_S, _now_us)
    with pytest.raises(HttpProtocolError):
        pool.request(build_request("GET", "/", "h", b"", {}))
    server.close()
    truncated = CraftedServer(
        [[b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"]], close_after=True
    )
    with pytest.raises(ConnectionClosed):
        Http1Pool(truncated.url, TIMEOUT_S, _now_us).request(
            build_request("GET", "/", "h", b"", {})
        )
    truncated.close()
    silent = socket.socket()  # the kernel accepts the connection; nobody ever answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        Http1Pool(url, 0.3, _now_us).request(build_request("GET", "/", "h", b"", {}))
    # The 0.3 s deadline must have passed; the upper bound only shows the deadline ended the
    # wait (a busy machine may add a lot to 0.3 s, never several seconds).
    assert 0.25 < time.monotonic() - start < 5.0
    silent.close()


def test_refused_connection():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ConnectionRefusedError):
        Http1Pool(f"http://127.0.0.1:{port}", 1.0, _now_us).request(b"GET / HTTP/1.1\r\n\r\n")


def test_only_plain_http_is_supported():
    with pytest.raises(ValueError, match="http://"):
        Http1Pool("https://127.0.0.1:1", 1.0, _now_us)
