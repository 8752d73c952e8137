"""The stand-in agent as a real subprocess, over real HTTP on loopback."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.launchers.launch import AgentProcess, start_agent
from tests.loadtests.conftest import HANG_S

pytestmark = pytest.mark.live

CHAT = "/v1/chat/completions"
# An upstream slow enough that a miss and a hit differ by far more than scheduler noise.
SLOW_UPSTREAM_MS = 200.0


@pytest.fixture(scope="module")
def slow_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """A caching stand-in whose upstream always takes 200 ms."""
    config = AgentConfig(upstream_distribution="constant", upstream_median_ms=SLOW_UPSTREAM_MS)
    with start_agent(config, tmp_path_factory.mktemp("slow-agent")) as process:
        yield process


def _chat_body(prompt: str, model: str = "gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}


def _unique_prompt() -> str:
    return f"what is {uuid.uuid4().hex}?"


def _raw_exchange(agent: AgentProcess, payload: bytes, timeout_s: float = HANG_S) -> bytes:
    """Send ``payload`` on a fresh socket and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", agent.port), timeout=timeout_s) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _metric_samples(agent: AgentProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(agent.metrics_url, trust_env=False).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_process_info_points_at_loopback_ports(agent: AgentProcess) -> None:
    assert agent.url == f"http://127.0.0.1:{agent.port}"
    assert agent.metrics_url == f"http://127.0.0.1:{agent.metrics_port}/metrics"
    assert agent.port != agent.metrics_port
    assert agent.running()


def test_miss_waits_for_the_upstream_and_hit_is_immediate(slow_agent: AgentProcess) -> None:
    body = _chat_body(_unique_prompt(), model="claude-3-haiku", max_tokens=6)
    with httpx.Client(base_url=slow_agent.url, trust_env=False) as client:
        miss = client.post(CHAT, json=body)
        hit = client.post(CHAT, json=body)
    assert (miss.status_code, hit.status_code) == (200, 200)
    assert miss.headers["X-Cache-Status"] == "MISS"
    assert hit.headers["X-Cache-Status"] == "HIT"
    assert miss.headers["X-Edge-Provider"] == hit.headers["X-Edge-Provider"] == "anthropic"
    assert miss.headers["Content-Type"] == "application/json"
    miss_ms = miss.elapsed.total_seconds() * 1000
    hit_ms = hit.elapsed.total_seconds() * 1000
    # The miss waited the whole upstream latency, and not much more (a double wait would be
    # 400 ms); the hit waited for nothing, so it is well under half of it.
    assert SLOW_UPSTREAM_MS <= miss_ms < 2 * SLOW_UPSTREAM_MS
    assert SLOW_UPSTREAM_MS <= float(miss.headers["X-Upstream-Time-Ms"]) < 1.5 * SLOW_UPSTREAM_MS
    assert hit.headers["X-Upstream-Time-Ms"] == "0.000"
    assert hit_ms < SLOW_UPSTREAM_MS / 2

    completion = miss.json()
    assert completion["object"] == "chat.completion"
    assert completion["id"].startswith("chatcmpl-")
    assert completion["model"] == "claude-3-haiku"
    assert isinstance(completion["created"], int)
    choice = completion["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"]
    assert choice["finish_reason"] == "stop"
    usage = completion["usage"]
    assert usage["completion_tokens"] == 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    cached = {**usage, "prompt_tokens_details": {"cached_tokens": usage["prompt_tokens"]}}
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}
    assert hit.json() == {**completion, "usage": cached}  # the same answer, its prompt cached


def test_different_max_tokens_is_a_different_cache_entry(agent: AgentProcess) -> None:
    prompt = _unique_prompt()
    with httpx.Client(base_url=agent.url, trust_env=False) as client:
        client.post(CHAT, json=_chat_body(prompt, max_tokens=4))
        other = client.post(CHAT, json=_chat_body(prompt, max_tokens=5))
    assert other.headers["X-Cache-Status"] == "MISS"


def test_without_cache_every_answer_is_bypass_and_slow(bypass_agent: AgentProcess) -> None:
    body = _chat_body("the same prompt every time")
    with httpx.Client(base_url=bypass_agent.url, trust_env=False) as client:
        responses = [client.post(CHAT, json=body) for _ in range(3)]
    assert [r.headers["X-Cache-Status"] for r in responses] == ["BYPASS"] * 3
    assert all(r.elapsed.total_seconds() * 1000 >= 18.0 for r in responses)


@pytest.mark.parametrize("path", ["/health", "/health/live", "/health/ready"])
def test_health_endpoints_answer_ok(agent: AgentProcess, path: str) -> None:
    response = httpx.get(agent.url + path, trust_env=False)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_bad_json_and_missing_fields_get_openai_errors(agent: AgentProcess) -> None:
    with httpx.Client(base_url=agent.url, trust_env=False) as client:
        bad_json = client.post(CHAT, content=b"{not json", headers={"Content-Type": "x"})
        no_messages = client.post(CHAT, json={"model": "gpt-4o"})
        bad_stream = client.post(CHAT, json=_chat_body("hi", stream="yes"))
    for response in (bad_json, no_messages, bad_stream):
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in bad_json.json()["error"]["message"]
    assert "'messages'" in no_messages.json()["error"]["message"]
    assert "'stream'" in bad_stream.json()["error"]["message"]


def test_unknown_path_is_404_and_wrong_method_is_405(agent: AgentProcess) -> None:
    with httpx.Client(base_url=agent.url, trust_env=False) as client:
        assert client.get("/v1/models/unknown").status_code == 404
        wrong = client.get(CHAT)
        assert (wrong.status_code, wrong.headers["Allow"]) == (405, "POST")
        assert client.post("/health", content=b"x").status_code == 405


def test_keep_alive_serves_many_requests_on_one_connection(agent: AgentProcess) -> None:
    client_ports = set()
    with httpx.Client(base_url=agent.url, trust_env=False) as client:
        for index in range(5):
            response = client.post(CHAT, json=_chat_body(f"keep-alive {index % 2}"))
            assert response.status_code == 200
            stream = response.extensions["network_stream"]
            client_ports.add(stream.get_extra_info("client_addr")[1])
    assert len(client_ports) == 1


def test_pipelined_requests_in_one_write_are_answered_in_order(agent: AgentProcess) -> None:
    body = json.dumps(_chat_body(_unique_prompt())).encode()
    chat = f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    health = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    # The slow MISS comes first: its answer must still precede the instant health answer.
    raw = _raw_exchange(agent, chat + health)
    first, second = raw.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200 OK") and b"X-Cache-Status: MISS" in first
    assert second.startswith(b"200 OK") and b'"status":"ok"' in second
    assert b"Connection: close" in second


def test_connection_close_and_http10_close_after_the_answer(agent: AgentProcess) -> None:
    # _raw_exchange reads until EOF, so returning at all shows the server closed the connection.
    for request in (
        b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /health/live HTTP/1.0\r\n\r\n",
    ):
        head, _, body = _raw_exchange(agent, request).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\nConnection: close" in head
        assert json.loads(body)["status"] == "ok"


def test_malformed_request_gets_400_and_the_connection_closes(agent: AgentProcess) -> None:
    raw = _raw_exchange(agent, b"NOT AN HTTP REQUEST\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"malformed request line" in raw
    missing_length = _raw_exchange(agent, f"POST {CHAT} HTTP/1.1\r\n\r\n".encode())
    assert missing_length.startswith(b"HTTP/1.1 411 Length Required\r\n")


def test_metrics_move_with_requests(slow_agent: AgentProcess) -> None:
    model = f"metrics-{uuid.uuid4().hex[:8]}"
    body = _chat_body(_unique_prompt(), model=model)
    before = _metric_samples(slow_agent)
    with httpx.Client(base_url=slow_agent.url, trust_env=False) as client:
        for _ in range(3):
            assert client.post(CHAT, json=body).status_code == 200
    after = _metric_samples(slow_agent)

    def delta(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    ok_labels = {"model": model, "status": "200", "path": CHAT}
    assert delta("edge_agent_requests_total", **ok_labels) == 3
    assert delta("edge_agent_cache_misses_total") == 1
    assert delta("edge_agent_cache_hits_total") == 2
    assert delta("edge_agent_cache_entries") == 1
    assert delta("edge_agent_request_duration_seconds_count", path=CHAT) == 3
    # The miss waited 200 ms upstream; the two hits take microseconds, so they fall in the
    # bucket up to 0.1 s (halfway to the miss) and the miss does not.
    assert delta("edge_agent_request_duration_seconds_sum", path=CHAT) >= SLOW_UPSTREAM_MS / 1000
    assert delta("edge_agent_request_duration_seconds_bucket", path=CHAT, le="0.1") == 2
    assert after[("process_resident_memory_bytes", frozenset())] > 0
    assert after[("process_cpu_seconds_total", frozenset())] > 0
