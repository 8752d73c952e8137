"""The lean HTTP/1.1 client against a real loopback socket server sending crafted responses."""

import select
import socket
import ssl
import threading
import time

import pytest

from loadtests.engine.client import ConnectionClosed, Http1Pool, HttpProtocolError, build_request
from loadtests.engine.flight import classify_error
from loadtests.engine.loopclient import LoopHttp
from tests.loadtests.conftest import HANG_S, wait_until
from tests.loadtests.tlscerts import Certs, make_certs

# Crafted servers on loopback with timing bounds: with the live tests, not beside the loads.
pytestmark = pytest.mark.live

# Deadline of a request to a crafted server that does answer: reached only on a real hang.
TIMEOUT_S = HANG_S


# In a script, a piece that hangs up: the server closes the connection there.
HANG_UP = None


class CraftedServer:
    """Accepts connections; answers each request with the next scripted list of byte pieces.

    With ``tls`` (a server context) it speaks TLS, handshaking in each connection's thread.
    """

    def __init__(
        self,
        script: list[list[bytes | None]],
        close_after: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.script = list(script)
        self.close_after = close_after
        self.tls = tls
        self.requests: list[bytes] = []
        self.connections = 0
        self.handshakes = 0  # TLS handshakes completed
        self.closed = 0  # connections this server has closed
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        scheme = "http" if tls is None else "https"
        self.url = f"{scheme}://127.0.0.1:{self.sock.getsockname()[1]}"
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
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
                self.handshakes += 1
            self._answer(conn)
        except OSError:  # the client refused the certificate, or went away
            pass
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
                if piece is HANG_UP:
                    return
                conn.sendall(piece)
                time.sleep(0.01)
            if self.close_after:
                return

    def count(self, request_line: bytes) -> int:
        """How many requests starting with ``request_line`` this server has read."""
        return sum(r.startswith(request_line) for r in self.requests)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=["greenlet", "loop"])
def http_pool(request):
    """Both clients: ``Http1Pool`` (read from a greenlet) and ``LoopHttp`` (read in the event
    loop's callbacks, the generator's default)."""
    return Http1Pool if request.param == "greenlet" else LoopHttp


def _now_us() -> int:
    return time.time_ns() // 1000


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the peer's FIN has arrived: the socket reads as EOF without blocking."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""


def test_content_length_keep_alive_and_split_reads(http_pool):
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Cache-Status: HIT\r\n\r\nhello"
    server = CraftedServer([[ok[:10], ok[10:30], ok[30:]], [ok]])
    pool = http_pool(server.url, TIMEOUT_S, _now_us)
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


def test_a_request_larger_than_the_socket_buffer_is_sent_whole(http_pool):
    # 8 MB does not fit the kernel's socket buffers: the loop client sends the rest as the
    # socket drains (a write watcher), the greenlet one in sendall.
    body = bytes(range(256)) * (8 * 4096)
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    server = CraftedServer([[ok], [ok]])
    pool = http_pool(server.url, TIMEOUT_S, _now_us)
    assert pool.request(build_request("POST", "/big", "h", body, {})).status == 200
    assert pool.request(build_request("GET", "/after", "h", b"", {})).status == 200
    assert server.requests[0].endswith(b"\r\n\r\n" + body)
    assert server.requests[1].startswith(b"GET /after ") and server.connections == 1
    server.close()


def test_chunked_body_with_extensions_and_trailers(http_pool):
    body = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\nhello\r\n6;x=y\r\n world\r\nA;name="a;b";flag\r\n0123456789\r\n'
        b"0;last=1\r\nT: v\r\nServer-Timing: total;dur=1.5\r\n\r\n"
    )
    # Split inside a chunk-size line's CRLF, inside a chunk and inside the trailers.
    cuts = [body.index(b"6;x=y") + 6, body.index(b"0123") + 3, body.index(b"Server-") + 4]
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    server = CraftedServer([pieces, [b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"]])
    pool = http_pool(server.url, TIMEOUT_S, _now_us)
    received: list[bytes] = []
    response = pool.request(build_request("GET", "/", "h", b"", {}), received.append)
    assert response.body_bytes == 21 and b"".join(received) == b"hello world0123456789"
    assert pool.request(build_request("GET", "/", "h", b"", {})).status == 204
    assert server.connections == 1  # the trailers were read to their end, not left behind
    server.close()


def test_close_delimited_body_and_connection_close(http_pool):
    server = CraftedServer([[b"HTTP/1.0 200 OK\r\n\r\nabc", b"def"]], close_after=True)
    pool = http_pool(server.url, TIMEOUT_S, _now_us)
    assert pool.request(build_request("GET", "/", "h", b"", {})).body_bytes == 6
    server.close()


def test_stale_kept_alive_socket_is_retried_once(http_pool):
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    server = CraftedServer([[ok], [ok]], close_after=True)  # server closes after each answer
    pool = http_pool(server.url, TIMEOUT_S, _now_us)
    assert pool.request(build_request("GET", "/", "h", b"", {})).status == 200
    # The pooled socket is stale only once the server has closed it and its FIN has arrived.
    wait_until(lambda: server.closed == 1, "the server to close the first connection")
    wait_until(lambda: _peer_closed(pool._idle[0].sock), "the close to reach the pooled socket")
    assert pool.request(build_request("GET", "/", "h", b"", {})).status == 200
    assert server.connections == 2
    server.close()


def test_errors_are_raised_not_hidden(http_pool):
    server = CraftedServer([[b"SSH-2.0-nonsense\r\n\r\n"]])
    pool = http_pool(server.url, TIMEOUT_S, _now_us)
    with pytest.raises(HttpProtocolError):
        pool.request(build_request("GET", "/", "h", b"", {}))
    server.close()
    truncated = CraftedServer(
        [[b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"]], close_after=True
    )
    with pytest.raises(ConnectionClosed):
        http_pool(truncated.url, TIMEOUT_S, _now_us).request(
            build_request("GET", "/", "h", b"", {})
        )
    truncated.close()
    silent = socket.socket()  # the kernel accepts the connection; nobody ever answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        http_pool(url, 0.3, _now_us).request(build_request("GET", "/", "h", b"", {}))
    # The 0.3 s deadline must have passed; the upper bound only shows the deadline ended the
    # wait (a busy machine may add a lot to 0.3 s, never several seconds).
    assert 0.25 < time.monotonic() - start < 5.0
    silent.close()


def test_refused_connection(http_pool):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ConnectionRefusedError):
        http_pool(f"http://127.0.0.1:{port}", 1.0, _now_us).request(b"GET / HTTP/1.1\r\n\r\n")


def test_only_http_and_https_targets(http_pool):
    with pytest.raises(ValueError, match="https://"):
        http_pool("ftp://127.0.0.1:1", 1.0, _now_us)


# Answers without a body (RFC 9110 §6.4.1): the server keeps the connection open, so a client that
# read on would wait for the timeout.
_NO_BODY = {
    "204": ("GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
    "304": ("GET", b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 99\r\n\r\n'),
    "HEAD with length": ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"),
    "HEAD chunked": ("HEAD", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
    "HEAD bare": ("HEAD", b"HTTP/1.1 200 OK\r\n\r\n"),
}


@pytest.mark.parametrize("case", list(_NO_BODY))
def test_responses_without_a_body_return_at_once(case, http_pool):
    method, answer = _NO_BODY[case]
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    server = CraftedServer([[answer], [ok]])
    pool = http_pool(server.url, 10.0, _now_us)
    started = time.monotonic()
    response = pool.request(build_request(method, "/", "h", b"", {}))
    elapsed_s = time.monotonic() - started
    assert response.body_bytes == 0 and response.status == int(answer[9:12])
    assert elapsed_s < 2.0  # far below the 10 s timeout a wait for a body would reach
    # Nothing of the answer was taken for a body: the next request on the same connection reads
    # its own response.
    follow = pool.request(build_request("GET", "/", "h", b"", {}))
    assert (follow.status, follow.body_bytes, server.connections) == (200, 2, 1)
    server.close()


def test_interim_100_continue_is_skipped_for_the_final_response(http_pool):
    final = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    early_hints = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
    server = CraftedServer(
        [
            [b"HTTP/1.1 100 Continue\r\n\r\n", final],
            [b"HTTP/1.1 100 Continue\r\n\r\n" + early_hints + final],
        ]
    )
    pool = http_pool(server.url, TIMEOUT_S, _now_us)
    raw = build_request("POST", "/v1/chat/completions", "h", b"{}", {"Expect": "100-continue"})
    for _ in range(2):  # the final response in a later read, then in the same read
        response = pool.request(raw)
        assert (response.status, response.body_bytes) == (200, 5)
        assert response.ttfb_us > 0
    assert server.connections == 1
    server.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CHAT = b"POST /v1/chat/completions "


def _chat() -> bytes:
    return build_request("POST", "/v1/chat/completions", "h", b"{}", {})


def test_close_mid_body_on_a_reused_socket_is_not_retried(http_pool):
    truncated = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    server = CraftedServer([[OK], [truncated, HANG_UP], [OK]])
    pool = http_pool(server.url, TIMEOUT_S, _now_us)
    assert pool.request(build_request("GET", "/warm", "h", b"", {})).status == 200
    with pytest.raises(ConnectionClosed, match="inside the response body") as caught:
        pool.request(_chat())
    assert classify_error(caught.value) == "connection closed"
    assert server.count(CHAT) == 1  # posted once, however the answer broke off
    server.close()


def test_close_mid_headers_on_a_reused_socket_is_not_retried(http_pool):
    server = CraftedServer([[OK], [b"HTTP/1.1 200 OK\r\nContent-Le", HANG_UP], [OK]])
    pool = http_pool(server.url, TIMEOUT_S, _now_us)
    assert pool.request(build_request("GET", "/warm", "h", b"", {})).status == 200
    with pytest.raises(ConnectionClosed, match="inside the response headers"):
        pool.request(_chat())
    assert server.count(CHAT) == 1
    server.close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_close_before_any_byte_on_a_reused_socket_is_retried_once(scheme, certs, http_pool):
    tls = certs.server_context() if scheme == "https" else None
    server = CraftedServer([[OK], [HANG_UP], [OK], [HANG_UP], [HANG_UP]], tls=tls)
    pool = http_pool(server.url, TIMEOUT_S, _now_us, ca_file=str(certs.ca_file))
    assert pool.request(build_request("GET", "/warm", "h", b"", {})).status == 200
    # The server reads the request, then closes without a byte: sent again on a new connection.
    response = pool.request(_chat())
    assert response.status == 200 and server.count(CHAT) == 2
    assert response.connect_us >= 0  # the retry opened (and timed) a new connection
    # Once only: when the new connection closes too, the close is the outcome.
    with pytest.raises(ConnectionClosed, match="before the response headers"):
        pool.request(_chat())
    assert server.count(CHAT) == 4 and server.connections == 3
    server.close()


def test_a_new_connection_closed_before_any_byte_is_not_retried(http_pool):
    server = CraftedServer([[HANG_UP], [OK]])
    with pytest.raises(ConnectionClosed):
        http_pool(server.url, TIMEOUT_S, _now_us).request(_chat())
    assert server.count(CHAT) == 1
    server.close()


def test_https_verifies_with_the_ca_file_and_reuses_one_connection(certs, http_pool):
    server = CraftedServer([[OK]] * 3, tls=certs.server_context())
    pool = http_pool(server.url, TIMEOUT_S, _now_us, ca_file=str(certs.ca_file))
    responses = [pool.request(build_request("GET", "/", "h", b"", {})) for _ in range(3)]
    assert [r.status for r in responses] == [200, 200, 200]
    assert server.connections == 1 and server.handshakes == 1  # keep-alive over TLS
    assert responses[0].connect_us >= 0  # TCP connect + handshake of the one new connection
    assert [r.connect_us for r in responses[1:]] == [-1, -1]
    server.close()


def test_https_sends_the_host_name_as_sni(certs, http_pool):
    seen: list[str | None] = []
    context = certs.server_context()
    context.sni_callback = lambda _sock, name, _ctx: seen.append(name)
    server = CraftedServer([[OK]], tls=context)
    url = server.url.replace("127.0.0.1", "localhost")
    pool = http_pool(url, TIMEOUT_S, _now_us, ca_file=str(certs.ca_file))
    assert pool.request(build_request("GET", "/", "h", b"", {})).status == 200
    assert seen == ["localhost"]
    server.close()


def test_https_without_the_ca_fails_verification_and_insecure_does_not(certs, http_pool):
    server = CraftedServer([[OK]], tls=certs.server_context())
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        http_pool(server.url, TIMEOUT_S, _now_us).request(build_request("GET", "/", "h", b"", {}))
    assert classify_error(caught.value) == "tls verification"
    insecure = http_pool(server.url, TIMEOUT_S, _now_us, insecure=True)
    assert insecure.request(build_request("GET", "/", "h", b"", {})).status == 200
    assert server.handshakes == 1  # the refused handshake never completed
    server.close()
