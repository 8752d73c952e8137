"""Routing of the stand-in: the Edge-Agent API app and the metrics app, server agnostic."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from loadtests.stack.http11 import BadRequest, Request, Response
from loadtests.stack.metrics import AgentMetrics
from loadtests.stack.openai_api import (
    ChatRequest,
    error_body,
    parse_chat_request,
    render_completion,
)
from loadtests.stack.upstream import ResponseCache, provider_for

__all__ = ["CHAT_PATH", "HEALTH_PATHS", "EdgeAgentApp", "MetricsApp"]

CHAT_PATH = "/v1/chat/completions"
HEALTH_PATHS = ("/health", "/health/live", "/health/ready")
# Unknown paths share one label so that scanning clients cannot grow the series.
OTHER_PATH = "other"
JSON = "application/json"

_HEALTH_BODY = b'{"status":"ok","service":"edge-agent-stand-in"}'

HandlerResult = Response | Coroutine[Any, Any, Response]


def _error(status: int, message: str, error_type: str = "invalid_request_error") -> Response:
    return Response(status, error_body(message, error_type), JSON)


def _not_allowed(allowed: str) -> Response:
    response = _error(405, f"method not allowed; use {allowed}")
    return Response(response.status, response.body, JSON, (("Allow", allowed),))


class EdgeAgentApp:
    """The Edge-Agent's routes: cached chat completions over a simulated upstream, and health."""

    def __init__(
        self,
        *,
        metrics: AgentMetrics,
        cache: ResponseCache | None,
        upstream_latency_ms: Callable[[], float],
        completion_tokens: int,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock_s: Callable[[], float] = time.perf_counter,
        wall_clock_s: Callable[[], float] = time.time,
    ) -> None:
        self._metrics = metrics
        self._cache = cache
        self._upstream_latency_ms = upstream_latency_ms
        self._completion_tokens = completion_tokens
        self._sleep = sleep
        self._clock_s = clock_s
        self._wall_clock_s = wall_clock_s
        self._ids = itertools.count(1)
        self._health = Response(200, _HEALTH_BODY, JSON)
        if cache is not None:
            metrics.track_cache_entries(cache.__len__)

    def handle(self, request: Request) -> HandlerResult:
        """Answer ``request`` now, or return a coroutine when it has to wait for the upstream."""
        started_s = self._clock_s()
        path = request.path
        if path == CHAT_PATH:
            if request.method != "POST":
                return self._finish(_not_allowed("POST"), "", path, started_s)
            return self._chat(request, started_s)
        if path in HEALTH_PATHS:
            if request.method not in ("GET", "HEAD"):
                return self._finish(_not_allowed("GET, HEAD"), "", path, started_s)
            return self._finish(self._health, "", path, started_s)
        return self._finish(
            _error(404, f"no route {path!r}", "not_found_error"), "", OTHER_PATH, started_s
        )

    def reject(self, bad: BadRequest) -> Response:
        """Answer a request the HTTP parser could not accept."""
        return self._finish(_error(bad.status, bad.message), "", OTHER_PATH, self._clock_s())

    def _chat(self, request: Request, started_s: float) -> HandlerResult:
        chat = parse_chat_request(request.body)
        if isinstance(chat, str):
            return self._finish(_error(400, chat), "", CHAT_PATH, started_s)
        if chat.stream:
            return self._finish(
                _error(400, "streaming not supported yet"), chat.model, CHAT_PATH, started_s
            )
        provider = provider_for(chat.model)
        cache = self._cache
        if cache is None:
            return self._upstream(chat, provider, "BYPASS", None, started_s)
        key = chat.cache_key()
        body = cache.get(key)
        if body is None:
            self._metrics.cache_misses.inc()
            return self._upstream(chat, provider, "MISS", key, started_s)
        self._metrics.cache_hits.inc()
        headers = (("X-Cache-Status", "HIT"), ("X-Edge-Provider", provider))
        return self._finish(Response(200, body, JSON, headers), chat.model, CHAT_PATH, started_s)

    async def _upstream(
        self, chat: ChatRequest, provider: str, status: str, key: str | None, started_s: float
    ) -> Response:
        await self._sleep(self._upstream_latency_ms() / 1000.0)
        body = render_completion(
            chat,
            completion_tokens=self._completion_tokens,
            completion_id=f"chatcmpl-standin{next(self._ids):010d}",
            created_s=int(self._wall_clock_s()),
        )
        if key is not None and self._cache is not None:
            self._cache.put(key, body)
        headers = (("X-Cache-Status", status), ("X-Edge-Provider", provider))
        return self._finish(Response(200, body, JSON, headers), chat.model, CHAT_PATH, started_s)

    def _finish(self, response: Response, model: str, path: str, started_s: float) -> Response:
        self._metrics.observe(model, response.status, path, self._clock_s() - started_s)
        return response


class MetricsApp:
    """Serves ``GET /metrics`` from the registry, on the same event loop as the API."""

    def __init__(self, metrics: AgentMetrics, content_type: str) -> None:
        self._metrics = metrics
        self._content_type = content_type

    def handle(self, request: Request) -> HandlerResult:
        """Render the metrics page, or 404/405."""
        if request.path != "/metrics":
            return _error(
                404, f"no route {request.path!r}; metrics are at /metrics", "not_found_error"
            )
        if request.method not in ("GET", "HEAD"):
            return _not_allowed("GET, HEAD")
        return Response(200, self._metrics.render(), self._content_type)

    def reject(self, bad: BadRequest) -> Response:
        """Answer a request the HTTP parser could not accept."""
        return _error(bad.status, bad.message)
