"""Streamed chat completions from the stand-in subprocess, timed chunk by chunk on loopback."""

from __future__ import annotations

import json
import socket
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loadtests.engine.client import Http1Pool, build_request
from loadtests.engine.sse import BodyUsage, TokenClock
from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.launchers.launch import AgentProcess, start_agent
from tests.loadtests.conftest import HANG_S

pytestmark = pytest.mark.live

CHAT = "/v1/chat/completions"
# Latencies far above scheduler noise (tens of ms on a busy machine), so that every bound below
# can sit halfway between the right timing and a wrong one.
UPSTREAM_MS = 100.0
TOKENS_PER_S = 25.0
TOKENS = 6
INTERVAL_MS = 1000.0 / TOKENS_PER_S
# The token span is scheduled from the first token, so it is exact but for timer slack.
SPAN_MS = (TOKENS - 1) * INTERVAL_MS
TIMEOUT_S = HANG_S  # a request's deadline: reached only on a real hang


@pytest.fixture(scope="module")
def streamer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """A caching stand-in: 100 ms upstream, 6 tokens a completion at 25 tokens/s."""
    config = AgentConfig(
        upstream_distribution="constant",
        upstream_median_ms=UPSTREAM_MS,
        completion_tokens=TOKENS,
        stream_tokens_per_s=TOKENS_PER_S,
    )
    with start_agent(config, tmp_path_factory.mktemp("streamer")) as process:
        yield process


def _body(prompt: str, **extra: object) -> dict[str, object]:
    messages = [{"role": "user", "content": prompt}]
    return {"model": "gpt-4o-mini", "messages": messages, "stream": True, **extra}


def _timed_stream(client: httpx.Client, body: dict[str, object]) -> tuple[httpx.Response, list]:
    """POST a stream; return the response and each event with its arrival (ms after sending)."""
    events: list[tuple[float, bytes]] = []
    buffer = b""
    sent_s = time.perf_counter()
    with client.stream("POST", CHAT, json=body) as response:
        for piece in response.iter_raw():
            at_ms = (time.perf_counter() - sent_s) * 1000.0
            buffer += piece
            *complete, buffer = buffer.split(b"\n\n")
            events += [(at_ms, event) for event in complete]
    assert buffer == b""
    return response, events


def _tokens(events: list[tuple[float, bytes]]) -> list[tuple[float, str]]:
    out = []
    for at_ms, event in events:
        if event != b"data: [DONE]":
            delta = json.loads(event.removeprefix(b"data: "))["choices"][0]["delta"]
            if delta.get("content"):
                out.append((at_ms, delta["content"]))
    return out


def _client_port(response: httpx.Response) -> int:
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


def _assert_paced(times_ms: list[float], sent_to_first_ms: float) -> None:
    """Token arrivals (ms after sending) paced one every INTERVAL_MS from the first token.

    The server cannot send the last token before SPAN_MS after the first (a lower bound that
    holds however late the client reads). The other bounds sit halfway to a wrong pacing, so a
    stall of the client of up to about SPAN_MS / 2 cannot break them.
    """
    assert len(times_ms) == TOKENS
    assert times_ms[-1] >= sent_to_first_ms + SPAN_MS
    gaps_ms = [b - a for a, b in zip(times_ms, times_ms[1:], strict=False)]
    # Sent one by one, not buffered up: most tokens arrive about an interval after the last.
    assert 0.5 * INTERVAL_MS <= statistics.median(gaps_ms) <= 1.5 * INTERVAL_MS
    assert 0.5 * SPAN_MS <= times_ms[-1] - times_ms[0] <= 1.5 * SPAN_MS


def test_streamed_miss_paces_tokens_after_the_upstream_then_a_hit_starts_at_once(
    streamer: AgentProcess,
) -> None:
    body = _body(f"stream {uuid.uuid4().hex}")
    with httpx.Client(base_url=streamer.url, trust_env=False, timeout=TIMEOUT_S) as client:
        miss, events = _timed_stream(client, body)
        port = _client_port(miss)
        hit, hit_events = _timed_stream(client, body)
        plain = client.post(CHAT, json={**body, "stream": False})  # keep-alive after streams
        assert {_client_port(hit), _client_port(plain)} == {port}

    assert miss.status_code == 200
    assert miss.headers["Content-Type"] == "text/event-stream"
    assert miss.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in miss.headers
    assert (miss.headers["X-Cache-Status"], hit.headers["X-Cache-Status"]) == ("MISS", "HIT")
    assert hit.headers["X-Cache-Layer"] == "L1"
    assert UPSTREAM_MS - 0.5 <= float(miss.headers["X-Upstream-Time-Ms"]) <= 1.5 * UPSTREAM_MS
    assert hit.headers["X-Upstream-Time-Ms"] == "0.000"

    first = json.loads(events[0][1].removeprefix(b"data: "))
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0] == {
        "index": 0,
        "delta": {"role": "assistant"},
        "finish_reason": None,
    }
    assert (
        json.loads(events[-2][1].removeprefix(b"data: "))["choices"][0]["finish_reason"] == "stop"
    )
    assert events[-1][1] == b"data: [DONE]"
    tokens = _tokens(events)
    assert len(tokens) == TOKENS and len(events) == TOKENS + 3
    text = "".join(token for _, token in tokens)
    assert text == plain.json()["choices"][0]["message"]["content"]

    times_ms = [at_ms for at_ms, _ in tokens]
    # First token: the upstream latency, well before the end of the stream (not held back).
    assert UPSTREAM_MS <= times_ms[0] < UPSTREAM_MS + SPAN_MS / 2
    _assert_paced(times_ms, UPSTREAM_MS)

    hit_times_ms = [at_ms for at_ms, _ in _tokens(hit_events)]
    assert hit_times_ms[0] < UPSTREAM_MS / 2  # a hit has no upstream to wait for
    _assert_paced(hit_times_ms, 0.0)


def test_the_harness_client_counts_tokens_and_reuses_the_connection(
    streamer: AgentProcess,
) -> None:
    def now_us() -> int:
        return time.perf_counter_ns() // 1000

    pool = Http1Pool(streamer.url, TIMEOUT_S, now_us)
    host = pool.host_header
    headers = {"Content-Type": "application/json"}
    try:
        results = []
        usage = {"stream_options": {"include_usage": True}}
        for body in (_body(uuid.uuid4().hex), _body(uuid.uuid4().hex, max_tokens=4, **usage)):
            raw = build_request("POST", CHAT, host, json.dumps(body).encode(), headers)
            clock = TokenClock(now_us)
            sent_us = now_us()
            response = pool.request(raw, clock.feed)
            results.append((response, clock, sent_us))
            assert len(pool._idle) == 1  # kept alive after the stream
        plain = BodyUsage()  # the same prompt again, not streamed: a cache hit
        raw = build_request("POST", CHAT, host, json.dumps({**body, "stream": False}).encode(),
                            headers)  # fmt: skip
        assert pool.request(raw, plain.feed).headers["x-cache-status"] == "HIT"
        plain.finish()
    finally:
        pool.close()
    (response, clock, sent_us), (_, capped, _) = results
    assert response.status == 200 and response.headers["x-cache-status"] == "MISS"
    assert clock.done and clock.tokens == TOKENS
    first_ms, last_ms = (clock.first_us - sent_us) / 1000, (clock.last_us - sent_us) / 1000
    assert UPSTREAM_MS <= first_ms < UPSTREAM_MS + SPAN_MS / 2
    assert last_ms >= UPSTREAM_MS + SPAN_MS  # the server cannot send the last token sooner
    assert 0.5 * SPAN_MS <= last_ms - first_ms <= 1.5 * SPAN_MS
    assert capped.done and capped.tokens == 4  # max_tokens caps the stream
    # One gap per chunk after the first; they add up to the span. Usage only when asked for.
    assert len(clock.gaps_us) == TOKENS - 1 and sum(clock.gaps_us) == clock.last_us - clock.first_us
    assert clock.usage.as_tuple() == (-1, -1, -1)
    prompt_tokens, completion_tokens, cached_tokens = capped.usage.as_tuple()
    assert prompt_tokens > 0 and (completion_tokens, cached_tokens) == (4, 0)  # a miss
    assert plain.usage.as_tuple() == (prompt_tokens, 4, prompt_tokens)  # a hit: all cached


def _raw_exchange(agent: AgentProcess, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", agent.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _raw_post(body: dict[str, object], version: str = "1.1") -> bytes:
    data = json.dumps(body).encode()
    head = f"POST {CHAT} HTTP/{version}\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


def test_a_request_pipelined_behind_a_stream_is_answered_after_its_last_chunk(
    streamer: AgentProcess,
) -> None:
    health = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    raw = _raw_exchange(streamer, _raw_post(_body(uuid.uuid4().hex)) + health)
    stream, second = raw.split(b"HTTP/1.1 ")[1:]
    head, _, chunked = stream.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert chunked.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")
    assert chunked.count(b'"content":"') == TOKENS
    assert second.startswith(b"200 OK") and b'"status":"ok"' in second


def test_an_http10_client_gets_a_close_delimited_stream(streamer: AgentProcess) -> None:
    raw = _raw_exchange(streamer, _raw_post(_body(uuid.uuid4().hex), version="1.0"))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head and b"Connection: close" in head
    assert body.count(b'"content":"') == TOKENS and body.endswith(b"data: [DONE]\n\n")


def test_stream_settings_from_flags_reach_a_fresh_agent(tmp_path: Path) -> None:
    first_token_ms = 200.0
    config = AgentConfig(
        upstream_distribution="constant",
        upstream_median_ms=5.0,
        completion_tokens=3,
        stream_tokens_per_s=1000.0,
        stream_first_token_ms=first_token_ms,
    )
    with (
        start_agent(config, tmp_path) as agent,
        httpx.Client(base_url=agent.url, trust_env=False, timeout=TIMEOUT_S) as client,
    ):
        response, events = _timed_stream(client, _body(uuid.uuid4().hex))
    tokens = _tokens(events)
    assert len(tokens) == 3
    # first_token_ms, not the 5 ms upstream (and not twice first_token_ms).
    assert first_token_ms <= tokens[0][0] < 1.5 * first_token_ms
    upstream_ms = float(response.headers["X-Upstream-Time-Ms"])
    assert first_token_ms - 0.5 <= upstream_ms < 1.5 * first_token_ms
