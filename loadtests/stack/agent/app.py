"""Routing of the stand-in: the Edge-Agent API app and the metrics app, server agnostic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from typing import Any, Protocol

from loadtests.stack.agent.costs import KnownCosts
from loadtests.stack.agent.l2cache import L2Cache
from loadtests.stack.agent.metrics import AgentMetrics
from loadtests.stack.agent.openai_api import (
    SSE_DONE,
    ChatRequest,
    error_body,
    mark_cached,
    parse_chat_request,
)
from loadtests.stack.agent.telemetry import NO_TELEMETRY, RequestRecord, RequestTelemetry
from loadtests.stack.agent.upstream import ResponseCache, SimulatedUpstream, provider_for
from loadtests.stack.http.parser import BadRequest, Request, Response, StreamingResponse

__all__ = [
    "CHAT_PATH",
    "HEALTH_PATHS",
    "JSON",
    "SSE",
    "EdgeAgentApp",
    "MetricsApp",
    "RendersMetrics",
    "error_response",
    "not_allowed",
]

CHAT_PATH = "/v1/chat/completions"
HEALTH_PATHS = ("/health", "/health/live", "/health/ready")
# Unknown paths share one label so that scanning clients cannot grow the series.
OTHER_PATH = "other"
JSON = "application/json"
SSE = "text/event-stream"

_HEALTH_BODY = b'{"status":"ok","service":"edge-agent-stand-in"}'

Answer = Response | StreamingResponse
HandlerResult = Answer | Coroutine[Any, Any, Answer]


def error_response(
    status: int, message: str, error_type: str = "invalid_request_error"
) -> Response:
    """An OpenAI-style error answer."""
    return Response(status, error_body(message, error_type), JSON)


def not_allowed(allowed: str) -> Response:
    """405 with the ``Allow`` header."""
    response = error_response(405, f"method not allowed; use {allowed}")
    return Response(response.status, response.body, JSON, (("Allow", allowed),))


class EdgeAgentApp:
    """The Edge-Agent's routes: chat completions cached in L1 (and L2) over a simulated upstream.

    ``X-Cache-Status`` is HIT, MISS or BYPASS (cache off); a HIT also says its ``X-Cache-Layer``.
    Every chat answer says ``X-Upstream-Time-Ms`` (time waited for the upstream, 0 on a hit) and
    ``X-Edge-Overhead-Ms`` (the rest of the time from handling to the answer's head). A miss
    waits for ``upstream`` (the same simulated provider the direct listener answers with); a
    streamed answer is paced by it, hit or miss.

    Every answer carries OpenAI's ``usage`` (a stream in its last chunk, when the request asks
    with ``stream_options.include_usage``); a cache HIT reports all its prompt tokens as
    ``cached_tokens``, a MISS none; the upstream decides how many tokens a completion has.
    """

    def __init__(
        self,
        *,
        metrics: AgentMetrics,
        cache: ResponseCache | None,
        upstream: SimulatedUpstream,
        l2: L2Cache | None = None,
        telemetry: RequestTelemetry = NO_TELEMETRY,
        costs: KnownCosts | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock_s: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._metrics = metrics
        self._cache = cache
        self._l2 = l2 if cache is not None else None
        self._telemetry = telemetry
        self._costs = costs if costs is not None else KnownCosts()
        self._provider = upstream
        self._sleep = sleep
        self._clock_s = clock_s
        self._health = Response(200, _HEALTH_BODY, JSON)
        if cache is not None:
            metrics.track_cache_entries(cache.__len__)

    def handle(self, request: Request) -> HandlerResult:
        """Answer ``request`` now, or return a coroutine when it has to wait."""
        started_s = self._clock_s()
        path, method = request.path, request.method
        if path == CHAT_PATH:
            if method != "POST":
                return self._finish(not_allowed("POST"), method, path, started_s)
            return self._chat(request, started_s)
        if path in HEALTH_PATHS:
            if method not in ("GET", "HEAD"):
                return self._finish(not_allowed("GET, HEAD"), method, path, started_s)
            return self._finish(self._health, method, path, started_s)
        not_found = error_response(404, f"no route {path!r}", "not_found_error")
        return self._finish(not_found, method, OTHER_PATH, started_s)

    def reject(self, bad: BadRequest) -> Response:
        """Answer a request the HTTP parser could not accept."""
        response = error_response(bad.status, bad.message)
        return self._finish(response, "", OTHER_PATH, self._clock_s())

    def _chat(self, request: Request, started_s: float) -> HandlerResult:
        chat = parse_chat_request(request.body)
        if isinstance(chat, str):
            refused = error_response(400, chat)
            timed = Response(400, refused.body, JSON, self._timing(0.0, started_s))
            return self._finish(timed, "POST", CHAT_PATH, started_s)
        # Only requests that are served pay the known costs (a 400 takes no capacity slot).
        wait_s = self._costs.on_chat()
        provider = provider_for(chat.model)
        cache = self._cache
        key = chat.cache_key() if cache is not None else None
        # The common case, an L1 hit with nothing to wait for, answers without a coroutine.
        costs = self._costs
        if cache is not None and key is not None and wait_s <= 0 and not costs.adds_latency:
            body = cache.get(key)
            if body is not None:
                self._metrics.cache_hits.inc()
                return self._answer(chat, provider, body, "HIT", "L1", 0.0, started_s)
            return self._serve(chat, provider, key, started_s, 0.0, l1_checked=True)
        return self._serve(chat, provider, key, started_s, wait_s, l1_checked=False)

    async def _serve(
        self,
        chat: ChatRequest,
        provider: str,
        key: str | None,
        started_s: float,
        wait_s: float,
        *,
        l1_checked: bool,
    ) -> Answer:
        if wait_s > 0:
            await self._sleep(wait_s)
        body, status, layer, upstream_s = await self._lookup(chat, key, l1_checked)
        if status == "HIT" and self._costs.gateway_s:  # a miss paid it in the upstream's wait
            await self._sleep(self._costs.gateway_s)
        if self._costs.latency_s:
            await self._sleep(self._costs.latency_s)
        return self._answer(chat, provider, body, status, layer, upstream_s, started_s)

    async def _lookup(
        self, chat: ChatRequest, key: str | None, l1_checked: bool
    ) -> tuple[bytes, str, str, float]:
        """The completion body, its cache status and layer, and the seconds spent upstream."""
        cache = self._cache
        if cache is None or key is None:
            body, upstream_s = await self._provider.complete(chat, self._costs.gateway_s)
            return body, "BYPASS", "", upstream_s
        cached = None if l1_checked else cache.get(key)
        if cached is not None:
            self._metrics.cache_hits.inc()
            return cached, "HIT", "L1", 0.0
        if self._l2 is not None:
            try:
                cached = await self._l2.get(key)
            except Exception:  # a failing L2 degrades to a miss, as a cache must
                self._metrics.cache_l2_errors.inc()
            if cached is not None:
                self._metrics.cache_hits.inc()
                self._metrics.cache_l2_hits.inc()
                cache.put(key, cached)
                return cached, "HIT", "L2", 0.0
        self._metrics.cache_misses.inc()
        body, upstream_s = await self._provider.complete(chat, self._costs.gateway_s)
        cache.put(key, body)
        if self._l2 is not None:
            try:
                await self._l2.put(key, body)
            except Exception:  # the answer is good without L2; count the failure only
                self._metrics.cache_l2_errors.inc()
        return body, "MISS", "", upstream_s

    def _answer(
        self,
        chat: ChatRequest,
        provider: str,
        body: bytes,
        status: str,
        layer: str,
        upstream_s: float,
        started_s: float,
    ) -> Answer:
        headers = (
            ("X-Cache-Status", status),
            *((("X-Cache-Layer", layer),) if layer else ()),
            ("X-Edge-Provider", provider),
            *self._timing(upstream_s, started_s),
        )
        if status == "HIT":
            body = mark_cached(body)
        if chat.stream:
            events = self._stream(body, chat, provider, status, layer, started_s)
            return StreamingResponse(200, events, SSE, headers)
        self._record(200, "POST", CHAT_PATH, started_s, chat.model, provider, status, layer)
        return Response(200, body, JSON, headers)

    def _timing(self, upstream_s: float, started_s: float) -> tuple[tuple[str, str], ...]:
        """The proxy-overhead headers: upstream wait and the agent's own time until now, in ms."""
        overhead_s = max(0.0, self._clock_s() - started_s - upstream_s)
        return (
            ("X-Upstream-Time-Ms", f"{upstream_s * 1000.0:.3f}"),
            ("X-Edge-Overhead-Ms", f"{overhead_s * 1000.0:.3f}"),
        )

    async def _stream(
        self,
        body: bytes,
        chat: ChatRequest,
        provider: str,
        status: str,
        layer: str,
        started_s: float,
    ) -> AsyncGenerator[bytes, None]:
        """The provider's paced events, then SSE_DONE; the request is recorded however it ends."""
        try:
            async for event in self._provider.stream(body, chat.include_usage):
                yield event
            yield SSE_DONE
        finally:
            # Counted when the stream ends, however it ends: its duration includes every token.
            self._record(200, "POST", CHAT_PATH, started_s, chat.model, provider, status, layer)

    def _finish(self, response: Response, method: str, path: str, started_s: float) -> Response:
        self._record(response.status, method, path, started_s)
        return response

    def _record(
        self,
        status: int,
        method: str,
        path: str,
        started_s: float,
        model: str = "",
        provider: str = "",
        cache_status: str = "",
        layer: str = "",
    ) -> None:
        duration_s = self._clock_s() - started_s
        self._metrics.observe(model, status, path, duration_s)
        self._telemetry.record(
            RequestRecord(method, path, status, duration_s, model, provider, cache_status, layer)
        )


class RendersMetrics(Protocol):
    """Anything that renders its registry as a metrics page."""

    def render(self) -> bytes: ...


class MetricsApp:
    """Serves ``GET /metrics`` from the registry, on the same event loop as the API."""

    def __init__(self, metrics: RendersMetrics, content_type: str) -> None:
        self._metrics = metrics
        self._content_type = content_type

    def handle(self, request: Request) -> HandlerResult:
        """Render the metrics page, or 404/405."""
        if request.path != "/metrics":
            return error_response(
                404, f"no route {request.path!r}; metrics are at /metrics", "not_found_error"
            )
        if request.method not in ("GET", "HEAD"):
            return not_allowed("GET, HEAD")
        return Response(200, self._metrics.render(), self._content_type)

    def reject(self, bad: BadRequest) -> Response:
        """Answer a request the HTTP parser could not accept."""
        return error_response(bad.status, bad.message)
