"""Network failures in plain words, on real exceptions from servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import requests

from analysis.measuring.client import Window
from analysis.measuring.serverside import measure_server
from loadtests.config.profiles import Profile, ProfileQuery
from loadtests.errors import PrometheusError
from loadtests.failures import failure_phrase, failure_sentence
from loadtests.recording.harnesslog import HARNESS_LOG_FILE, harness_log
from loadtests.serverside.promapi import PrometheusAPI
from loadtests.serverside.session import ServerSide

SHORT_S = 0.2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A loopback server that reads each request, then ``answer``s it; yields its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        with contextlib.suppress(OSError):  # the listener closed: the test is over
            while True:
                conn, _ = listener.accept()
                with conn:
                    conn.recv(65536)
                    answer(conn)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def _busy(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy")


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST


def _hang_up(conn: socket.socket) -> None:
    conn.shutdown(socket.SHUT_RDWR)  # FIN before any answer


def _plain_ok(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def _raised(call: Callable[[], object]) -> BaseException:
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


def _clients(url: str, timeout_s: float = 2.0) -> list[Callable[[], object]]:
    """The same GET through each library the harness uses, failing on an HTTP error status."""
    return [
        lambda: requests.get(url, timeout=timeout_s, verify=False).raise_for_status(),
        lambda: httpx.get(url, timeout=timeout_s, verify=False).raise_for_status(),
    ]


def test_a_closed_port_refused_the_connection():
    port = _closed_port()
    calls = _clients(f"http://127.0.0.1:{port}/")
    calls.append(lambda: socket.create_connection(("127.0.0.1", port), timeout=2.0))
    for call in calls:
        assert failure_phrase(_raised(call)) == "refused the connection"


def test_a_server_that_never_answers_did_not_answer_within_the_timeout():
    with socket.socket() as listener:  # accepts (the kernel's backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        for call in _clients(url, SHORT_S):
            assert failure_phrase(_raised(call), SHORT_S) == "did not answer within 0.2 s"
        assert failure_phrase(_raised(_clients(url, SHORT_S)[0])) == "did not answer in time"


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_busy, "answered HTTP 503"),
        (_reset, "reset the connection"),
        (_hang_up, "closed the connection without answering"),
    ],
)
def test_what_a_misbehaving_server_did(answer, phrase):
    with _server(answer) as url:
        for call in _clients(f"{url}/"):
            assert failure_phrase(_raised(call)) == phrase


def test_https_to_a_plain_http_server_failed_the_tls_handshake():
    with _server(_plain_ok) as url:
        for call in _clients(url.replace("http:", "https:") + "/"):
            assert failure_phrase(_raised(call)) == "failed the TLS handshake"


def test_a_name_that_does_not_resolve_has_no_such_host():
    # Built, not looked up: the tests send nothing beyond loopback, DNS included.
    lookup = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    try:
        raise requests.exceptions.ConnectionError("Max retries exceeded") from lookup
    except requests.exceptions.ConnectionError as exc:
        assert failure_phrase(exc) == "has no such host"
    assert failure_phrase(ValueError("odd")) == "failed (ValueError)"


def test_the_sentence_is_plain_and_the_library_detail_goes_to_harness_log(tmp_path):
    port = _closed_port()
    error = _raised(_clients(f"http://127.0.0.1:{port}/query")[0])
    with harness_log(tmp_path) as log_path:
        sentence = failure_sentence(f"Prometheus at http://127.0.0.1:{port}", error)
    assert sentence == f"Prometheus at http://127.0.0.1:{port} refused the connection"
    assert log_path == tmp_path / HARNESS_LOG_FILE
    log = log_path.read_text()
    assert sentence in log and "HTTPConnectionPool" in log and "Traceback" in log


def test_prometheus_answering_503_is_named_with_its_address():
    with _server(_busy) as url, PrometheusAPI(url, 2.0) as api:
        error = _raised(lambda: api.instant("up"))
    assert isinstance(error, PrometheusError)
    assert str(error) == f"Prometheus at {url} answered HTTP 503"


def test_the_no_data_reason_of_a_closed_prometheus_port_is_one_sentence(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    sentence = f"Prometheus at {url} refused the connection"
    queries = {
        "memory_bytes": ProfileQuery("memory_bytes", "gauge", "bytes", "rss"),
        "cpu_percent": ProfileQuery("cpu_percent", "gauge", "%", "cpu"),
    }
    server = ServerSide(Profile("p", Path("p.yaml"), 1.0, 2.0, queries), url, [])
    with harness_log(tmp_path):
        server.check()  # the real client, against the closed port
    assert server.notes == [
        f"{sentence} before the load; the load went ahead and the server-side rows are NO DATA"
    ]
    collected = server.collect(1_700_000_000.0, 1_700_000_010.0)
    window = Window(1_700_000_000_000_000, 1_700_000_010_000_000, "test")
    empty = pd.DataFrame(
        {"timestamp_s": np.array([], float), "metric": [], "source": [], "labels": [], "value": []}
    )
    measured = measure_server(empty, tuple(collected.queries), window, has_series=False)
    assert measured.memory_max_bytes.reason == sentence
    assert measured.cpu_mean_percent.reason == sentence
    assert "ConnectionError" in (tmp_path / HARNESS_LOG_FILE).read_text()
