"""The Edge-Agent app's routing, caching and metrics, driven in-process with a recorded sleep."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

from prometheus_client import CollectorRegistry

from loadtests.stack.app import EdgeAgentApp
from loadtests.stack.http11 import Request, Response
from loadtests.stack.metrics import AgentMetrics
from loadtests.stack.upstream import ResponseCache

BODY = json.dumps({"model": "claude-3-haiku", "messages": [{"role": "user", "content": "hi"}]})


def _request(method: str, path: str, body: bytes = b"") -> Request:
    return Request(method, path, "", True, {}, body, True)


def _app(cache: ResponseCache | None, slept_s: list[float]) -> tuple[EdgeAgentApp, AgentMetrics]:
    async def sleep(seconds: float) -> None:
        slept_s.append(seconds)

    metrics = AgentMetrics(CollectorRegistry())
    app = EdgeAgentApp(
        metrics=metrics,
        cache=cache,
        upstream_latency_ms=lambda: 12.5,
        completion_tokens=4,
        sleep=sleep,
    )
    return app, metrics


def _answer(result: Response | Coroutine[Any, Any, Response]) -> Response:
    return result if isinstance(result, Response) else asyncio.run(result)


def _sample(metrics: AgentMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_miss_waits_for_the_upstream_then_hit_answers_at_once() -> None:
    slept_s: list[float] = []
    app, metrics = _app(ResponseCache(10), slept_s)
    first = app.handle(_request("POST", "/v1/chat/completions", BODY.encode()))
    assert not isinstance(first, Response)  # a miss has to wait for the upstream
    miss = _answer(first)
    assert slept_s == [0.0125]
    hit = app.handle(_request("POST", "/v1/chat/completions", BODY.encode()))
    assert isinstance(hit, Response)
    assert dict(miss.headers) == {"X-Cache-Status": "MISS", "X-Edge-Provider": "anthropic"}
    assert dict(hit.headers) == {"X-Cache-Status": "HIT", "X-Edge-Provider": "anthropic"}
    assert hit.body == miss.body
    assert _sample(metrics, "edge_agent_cache_hits_total") == 1.0
    assert _sample(metrics, "edge_agent_cache_misses_total") == 1.0
    assert _sample(metrics, "edge_agent_cache_entries") == 1.0
    assert (
        _sample(
            metrics,
            "edge_agent_requests_total",
            model="claude-3-haiku",
            status="200",
            path="/v1/chat/completions",
        )
        == 2.0
    )


def test_without_cache_every_request_goes_upstream_as_bypass() -> None:
    slept_s: list[float] = []
    app, metrics = _app(None, slept_s)
    for _ in range(2):
        response = _answer(app.handle(_request("POST", "/v1/chat/completions", BODY.encode())))
        assert dict(response.headers)["X-Cache-Status"] == "BYPASS"
    assert slept_s == [0.0125, 0.0125]
    assert _sample(metrics, "edge_agent_cache_hits_total") == 0.0


def test_routes_answer_health_404_405_and_streaming_400() -> None:
    app, metrics = _app(ResponseCache(10), [])
    assert _answer(app.handle(_request("GET", "/health/ready"))).status == 200
    assert _answer(app.handle(_request("GET", "/nope"))).status == 404
    not_allowed = _answer(app.handle(_request("GET", "/v1/chat/completions")))
    assert (not_allowed.status, dict(not_allowed.headers)["Allow"]) == (405, "POST")
    streaming = json.dumps({"model": "m", "messages": [{"role": "user"}], "stream": True})
    refused = _answer(app.handle(_request("POST", "/v1/chat/completions", streaming.encode())))
    assert refused.status == 400
    assert json.loads(refused.body)["error"]["message"] == "streaming not supported yet"
    assert (
        _sample(metrics, "edge_agent_requests_total", model="", status="404", path="other") == 1.0
    )


def test_model_labels_are_capped() -> None:
    metrics = AgentMetrics(CollectorRegistry(), max_model_labels=2)
    for model in ("a", "b", "c", "d"):
        metrics.observe(model, 200, "/v1/chat/completions", 0.001)
    labels = {"status": "200", "path": "/v1/chat/completions"}
    assert _sample(metrics, "edge_agent_requests_total", model="other", **labels) == 2.0
    assert _sample(metrics, "edge_agent_requests_total", model="a", **labels) == 1.0
