"""The stand-in's apps under uvicorn through the ASGI adapter, in-process on loopback."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from loadtests.stack.agent.app import CHAT_PATH, MetricsApp
from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.agent.main import build_app
from loadtests.stack.agent.metrics import AgentMetrics
from loadtests.stack.http.asgi import listen_asgi
from tests.loadtests.conftest import HANG_S

pytestmark = pytest.mark.live
# uvicorn is not a dependency of the project (yet): without it there is nothing to test.

CONFIG = AgentConfig(
    upstream_distribution="constant",
    upstream_median_ms=1.0,
    completion_tokens=5,
    stream_tokens_per_s=1000.0,
    http_server="uvicorn",
)
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


class Served:
    """The API and the metrics under uvicorn on a loop of their own, in a thread."""

    def __init__(self) -> None:
        self._ports: concurrent.futures.Future[tuple[int, int]] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> tuple[int, int]:
        self._thread.start()
        return self._ports.result(timeout=HANG_S)  # set once both servers listen

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=HANG_S)
        assert not self._thread.is_alive(), "the servers did not stop"

    def _run(self) -> None:
        import uvloop

        try:
            uvloop.run(self._serve())
        except BaseException as exc:
            if not self._ports.done():
                self._ports.set_exception(exc)
            raise

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        metrics = AgentMetrics(CollectorRegistry(auto_describe=True))
        api = await listen_asgi(build_app(CONFIG, metrics), "127.0.0.1", 0, "the API")
        scrape = await listen_asgi(
            MetricsApp(metrics, CONTENT_TYPE_LATEST),
            "127.0.0.1",
            0,
            "metrics",
            metrics_registry=metrics.registry,
        )
        self._ports.set_result((api.port, scrape.port))
        await self._stop.wait()
        await api.close()
        await scrape.close()


@pytest.fixture(scope="module")
def ports() -> Iterator[tuple[int, int]]:
    served = Served()
    try:
        yield served.start()
    finally:
        served.stop()


@pytest.fixture()
def client(ports: tuple[int, int]) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"http://127.0.0.1:{ports[0]}", timeout=HANG_S, trust_env=False
    ) as http:
        yield http


def test_health_answers_its_json(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok", "service": "edge-agent-stand-in"}


def test_head_has_the_length_but_no_body(client: httpx.Client) -> None:
    response = client.head("/health")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == len(client.get("/health").content)


def test_a_repeated_chat_is_a_miss_then_a_hit(client: httpx.Client) -> None:
    body = {**CHAT, "messages": [{"role": "user", "content": "miss then hit"}]}
    first = client.post(CHAT_PATH, json=body)
    second = client.post(CHAT_PATH, json=body)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["x-cache-status"] == "MISS"
    assert second.headers["x-cache-status"] == "HIT"
    assert second.headers["x-cache-layer"] == "L1"
    assert first.json()["choices"] == second.json()["choices"]
    assert float(first.headers["x-upstream-time-ms"]) > 0


def test_a_streamed_chat_sends_its_events_and_ends_with_done(client: httpx.Client) -> None:
    body = {**CHAT, "stream": True}
    with client.stream("POST", CHAT_PATH, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["transfer-encoding"] == "chunked"
        events = [line for line in response.iter_lines() if line]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len(chunks) >= CONFIG.completion_tokens + 2  # role, tokens, stop
    assert client.get("/health").status_code == 200  # the connection is still usable


def test_an_unknown_path_is_404(client: httpx.Client) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_get_on_the_chat_path_is_405_with_allow(client: httpx.Client) -> None:
    response = client.get(CHAT_PATH)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_a_malformed_json_body_is_400(client: httpx.Client) -> None:
    response = client.post(
        CHAT_PATH, content=b'{"model": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_metrics_come_from_prometheus_client_and_other_paths_are_404(
    ports: tuple[int, int], client: httpx.Client
) -> None:
    assert client.get("/health").status_code == 200
    with httpx.Client(
        base_url=f"http://127.0.0.1:{ports[1]}", timeout=HANG_S, trust_env=False
    ) as scrape:
        page = scrape.get("/metrics")
        assert page.status_code == 200
        assert 'edge_agent_requests_total{model="",path="/health",status="200"}' in page.text
        assert scrape.get("/other").status_code == 404
