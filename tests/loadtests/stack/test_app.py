"""The Edge-Agent app's routing, caching, streaming and costs, in-process on a fake clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from loadtests.stack.agent.app import EdgeAgentApp
from loadtests.stack.agent.costs import KnownCosts, TelemetryCost
from loadtests.stack.agent.metrics import AgentMetrics
from loadtests.stack.agent.openai_api import SSE_DONE, mark_cached
from loadtests.stack.agent.upstream import ResponseCache, SimulatedUpstream
from loadtests.stack.http.parser import Request, Response, StreamingResponse

CHAT = "/v1/chat/completions"
BODY = json.dumps({"model": "claude-3-haiku", "messages": [{"role": "user", "content": "hi"}]})
STREAM_BODY = json.dumps(
    {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "hi"}], "stream": True}
)


class FakeTime:
    """A clock that only moves when the app sleeps, so every duration is exact."""

    def __init__(self) -> None:
        self.now_s = 1000.0
        self.slept_s: list[float] = []

    def clock_s(self) -> float:
        return self.now_s

    async def sleep(self, seconds: float) -> None:
        self.slept_s.append(round(seconds, 9))
        self.now_s += seconds


def _request(method: str, path: str, body: str | bytes = b"") -> Request:
    raw = body.encode() if isinstance(body, str) else body
    return Request(method, path, "", True, {}, raw, True)


def _app(
    cache: ResponseCache | None, fake: FakeTime, **options: Any
) -> tuple[EdgeAgentApp, AgentMetrics]:
    metrics = AgentMetrics(CollectorRegistry())
    upstream = SimulatedUpstream(
        latency_ms=lambda: 12.5,
        completion_tokens=4,
        tokens_per_s=options.pop("tokens_per_s", 50.0),
        first_token_ms=options.pop("first_token_ms", None),
        honour_max_tokens=options.pop("honour_max_tokens", False),
        sleep=fake.sleep,
        clock_s=fake.clock_s,
    )
    app = EdgeAgentApp(
        metrics=metrics,
        cache=cache,
        upstream=upstream,
        sleep=fake.sleep,
        clock_s=fake.clock_s,
        **options,
    )
    return app, metrics


def _answer(result: Response | StreamingResponse | Coroutine[Any, Any, Any]) -> Any:
    if isinstance(result, Response | StreamingResponse):
        return result
    return asyncio.run(result)


def _events(response: StreamingResponse) -> list[bytes]:
    async def collect() -> list[bytes]:
        return [event async for event in response.chunks]

    return asyncio.run(collect())


def _sample(metrics: AgentMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_miss_waits_for_the_upstream_then_hit_answers_at_once() -> None:
    fake = FakeTime()
    app, metrics = _app(ResponseCache(10), fake)
    first = app.handle(_request("POST", CHAT, BODY))
    assert not isinstance(first, Response)  # a miss has to wait for the upstream
    miss = _answer(first)
    assert fake.slept_s == [0.0125]
    hit = app.handle(_request("POST", CHAT, BODY))
    assert isinstance(hit, Response)
    assert dict(miss.headers) == {
        "X-Cache-Status": "MISS",
        "X-Edge-Provider": "anthropic",
        "X-Upstream-Time-Ms": "12.500",
        "X-Edge-Overhead-Ms": "0.000",
    }
    assert dict(hit.headers) == {
        "X-Cache-Status": "HIT",
        "X-Cache-Layer": "L1",
        "X-Edge-Provider": "anthropic",
        "X-Upstream-Time-Ms": "0.000",
        "X-Edge-Overhead-Ms": "0.000",
    }
    assert hit.body == mark_cached(miss.body)  # the same answer, its prompt tokens cached
    assert _sample(metrics, "edge_agent_cache_hits_total") == 1.0
    assert _sample(metrics, "edge_agent_cache_misses_total") == 1.0
    assert _sample(metrics, "edge_agent_cache_entries") == 1.0
    labels = {"model": "claude-3-haiku", "status": "200", "path": CHAT}
    assert _sample(metrics, "edge_agent_requests_total", **labels) == 2.0


def test_without_cache_every_request_goes_upstream_as_bypass() -> None:
    fake = FakeTime()
    app, metrics = _app(None, fake)
    for _ in range(2):
        response = _answer(app.handle(_request("POST", CHAT, BODY)))
        assert dict(response.headers)["X-Cache-Status"] == "BYPASS"
    assert fake.slept_s == [0.0125, 0.0125]
    assert _sample(metrics, "edge_agent_cache_hits_total") == 0.0


def test_routes_answer_health_404_405_and_a_timed_400() -> None:
    app, metrics = _app(ResponseCache(10), FakeTime())
    assert _answer(app.handle(_request("GET", "/health/ready"))).status == 200
    assert _answer(app.handle(_request("GET", "/nope"))).status == 404
    not_allowed = _answer(app.handle(_request("GET", CHAT)))
    assert (not_allowed.status, dict(not_allowed.headers)["Allow"]) == (405, "POST")
    refused = _answer(app.handle(_request("POST", CHAT, b"{not json")))
    assert refused.status == 400
    assert dict(refused.headers) == {"X-Upstream-Time-Ms": "0.000", "X-Edge-Overhead-Ms": "0.000"}
    assert (
        _sample(metrics, "edge_agent_requests_total", model="", status="404", path="other") == 1.0
    )


def test_stream_paces_tokens_from_the_first_and_is_counted_when_it_ends() -> None:
    fake = FakeTime()
    app, metrics = _app(ResponseCache(10), fake, tokens_per_s=50.0)
    miss = _answer(app.handle(_request("POST", CHAT, STREAM_BODY)))
    assert isinstance(miss, StreamingResponse)
    assert miss.content_type == "text/event-stream"
    assert dict(miss.headers)["X-Upstream-Time-Ms"] == "12.500"
    labels = {"model": "claude-3-haiku", "status": "200", "path": CHAT}
    assert _sample(metrics, "edge_agent_requests_total", **labels) is None  # not ended yet
    events = _events(miss)
    assert fake.slept_s == [0.0125, 0.02, 0.02, 0.02]  # first token, then 1/50 s apart
    assert b'"delta":{"role":"assistant"}' in events[0]
    contents = [json.loads(e[6:])["choices"][0]["delta"]["content"] for e in events[1:5]]
    assert "".join(contents) == "the edge agent answers"
    assert b'"finish_reason":"stop"' in events[5]
    assert events[6] == SSE_DONE and len(events) == 7
    assert _sample(metrics, "edge_agent_requests_total", **labels) == 1.0
    duration_s = _sample(metrics, "edge_agent_request_duration_seconds_sum", path=CHAT)
    assert duration_s == pytest.approx(0.0125 + 3 * 0.02)

    fake.slept_s.clear()
    hit = app.handle(_request("POST", CHAT, STREAM_BODY))
    assert isinstance(hit, StreamingResponse)  # a hit streams without waiting for anyone
    assert dict(hit.headers)["X-Cache-Status"] == "HIT"
    assert len(_events(hit)) == 7
    assert fake.slept_s == [0.02, 0.02, 0.02]


def test_usage_in_plain_and_streamed_answers_cached_tokens_on_a_hit() -> None:
    fake = FakeTime()
    app, _ = _app(ResponseCache(10), fake, tokens_per_s=50.0)
    asked = json.dumps({**json.loads(STREAM_BODY), "stream_options": {"include_usage": True}})
    miss = _events(_answer(app.handle(_request("POST", CHAT, asked))))
    assert miss[-1] == SSE_DONE and b'"finish_reason":"stop"' in miss[-3]
    usage = json.loads(miss[-2].removeprefix(b"data: "))
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == 4
    assert usage["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    prompt_tokens = usage["usage"]["prompt_tokens"]
    hit = _events(_answer(app.handle(_request("POST", CHAT, asked))))
    cached = json.loads(hit[-2].removeprefix(b"data: "))["usage"]["prompt_tokens_details"]
    assert cached == {"cached_tokens": prompt_tokens}
    unasked = _events(_answer(app.handle(_request("POST", CHAT, STREAM_BODY))))
    assert not any(b'"usage"' in event for event in unasked)  # only when asked for
    other = BODY.replace('"hi"', '"hello there"')  # a prompt of its own: a miss first
    plain_miss = json.loads(_answer(app.handle(_request("POST", CHAT, other))).body)
    plain_hit = json.loads(_answer(app.handle(_request("POST", CHAT, other))).body)
    assert plain_miss["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    assert plain_hit["usage"] == {
        **plain_miss["usage"],
        "prompt_tokens_details": {"cached_tokens": plain_miss["usage"]["prompt_tokens"]},
    }


def test_honour_max_tokens_streams_exactly_the_requested_tokens() -> None:
    fake = FakeTime()
    app, _ = _app(None, fake, honour_max_tokens=True)
    asked = json.dumps({**json.loads(STREAM_BODY), "max_tokens": 9})
    events = _events(_answer(app.handle(_request("POST", CHAT, asked))))
    assert sum(b'"content":' in event for event in events) == 9  # completion_tokens is 4


def test_first_token_ms_replaces_the_upstream_latency_of_streams_only() -> None:
    fake = FakeTime()
    app, _ = _app(None, fake, first_token_ms=40.0)
    _events(_answer(app.handle(_request("POST", CHAT, STREAM_BODY))))
    _answer(app.handle(_request("POST", CHAT, BODY)))
    assert fake.slept_s[0] == 0.04 and fake.slept_s[-1] == 0.0125


def test_capacity_queue_delays_each_chat_by_its_slot_and_health_not_at_all() -> None:
    fake = FakeTime()
    costs = KnownCosts(capacity_rps=50.0, clock_s=fake.clock_s)
    app, _ = _app(ResponseCache(10), fake, costs=costs)
    _answer(app.handle(_request("POST", CHAT, BODY)))  # fill the cache: now every chat is a hit
    fake.now_s += 1.0
    fake.slept_s.clear()
    pending = [app.handle(_request("POST", CHAT, BODY)) for _ in range(3)]
    assert isinstance(pending[0], Response)  # the server was free: no wait
    assert isinstance(app.handle(_request("GET", "/health")), Response)

    async def finish_all() -> list[Any]:
        return [await p for p in pending[1:]]

    later = asyncio.run(finish_all())
    assert fake.slept_s == [0.02, 0.04]  # slots 1/50 s apart, booked on arrival
    assert [dict(r.headers)["X-Cache-Status"] for r in later] == ["HIT", "HIT"]


def test_telemetry_latency_cost_is_slept_after_the_upstream_on_hits_too() -> None:
    fake = FakeTime()
    costs = KnownCosts(telemetry=TelemetryCost(latency_ms=3.0))
    app, _ = _app(ResponseCache(10), fake, costs=costs)
    miss = _answer(app.handle(_request("POST", CHAT, BODY)))
    hit = _answer(app.handle(_request("POST", CHAT, BODY)))
    assert fake.slept_s == [0.0125, 0.003, 0.003]
    assert dict(miss.headers)["X-Edge-Overhead-Ms"] == "3.000"
    assert dict(hit.headers)["X-Edge-Overhead-Ms"] == "3.000"


def test_model_labels_are_capped() -> None:
    metrics = AgentMetrics(CollectorRegistry(), max_model_labels=2)
    for model in ("a", "b", "c", "d"):
        metrics.observe(model, 200, CHAT, 0.001)
    labels = {"status": "200", "path": CHAT}
    assert _sample(metrics, "edge_agent_requests_total", model="other", **labels) == 2.0
    assert _sample(metrics, "edge_agent_requests_total", model="a", **labels) == 1.0
