"""`edgeperf run` against an https:// target: verified with --ca-file, refused before the load
without it."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator

import pandas as pd
import pytest

from tests.loadtests.conftest import only_run_dir, run_cli, summary_of, write_scenario
from tests.loadtests.tlscerts import Certs, make_certs

pytestmark = [pytest.mark.slow, pytest.mark.live]


class _Health(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the generator reuses its TLS connections

    def do_GET(self) -> None:  # noqa: N802 - the handler's naming
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        return None


class _TlsServer(http.server.ThreadingHTTPServer):
    """Handshakes in each connection's thread, so a refused certificate blocks nobody."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Health)
        self.context = context

    def finish_request(self, request, client_address) -> None:
        if self.context is not None:
            request = self.context.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        return None  # a client that rejects the certificate hangs up mid-handshake


def _serve(context: ssl.SSLContext | None) -> Iterator[str]:
    server = _TlsServer(context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_url(certs) -> Iterator[str]:
    yield from _serve(certs.server_context())


def test_https_run_with_the_ca_file(tmp_path, certs, https_url):
    scenario = write_scenario(tmp_path / "s.yaml", rate_rps=20, duration="3s")
    out = tmp_path / "r"
    result = run_cli(
        "run", str(scenario), "--host", https_url, "--ca-file", str(certs.ca_file),
        "--out", str(out), "--quiet",
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout + result.stderr
    run_dir = only_run_dir(out)
    samples = pd.concat(pd.read_parquet(p) for p in (run_dir / "samples").glob("*.parquet"))
    assert len(samples) == 60 and (samples["error"] == "").all(), samples["error"].value_counts()
    assert (samples["status"] == 200).all()
    # Keep-alive over TLS: a handful of connections opened (timed), every other request reused one.
    opened = samples["connect_us"] >= 0
    assert 1 <= opened.sum() <= 10 and (samples["connect_us"][~opened] == -1).all()
    generator = summary_of(run_dir)["measurements"]["generator"]
    assert generator["connections_opened"] == opened.sum()


def test_https_run_without_the_ca_stops_before_any_load(tmp_path, https_url):
    scenario = write_scenario(tmp_path / "s.yaml", rate_rps=20, duration="3s")
    result = run_cli("run", str(scenario), "--host", https_url, "--out", str(tmp_path / "r"))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("edgeperf: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"target {https_url} failed TLS verification" in lines[0]
    assert "--ca-file" in lines[0] and "no load was sent" in lines[0]


def test_plain_http_at_an_https_url_stops_before_any_load(tmp_path):
    scenario = write_scenario(tmp_path / "s.yaml", rate_rps=20, duration="3s")
    for url in _serve(None):
        result = run_cli("run", str(scenario), "--host", url, "--out", str(tmp_path / "r"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "did not complete a TLS handshake" in result.stderr and "Traceback" not in result.stderr
