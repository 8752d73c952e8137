"""The stand-in's direct listener: its simulated upstream answering as an upstream would, alone.

Gateway vs direct experiments send the same workload here and through the gateway (the API app);
the difference between the two is what the gateway adds. So this answers exactly as the
gateway's upstream does on a miss (the same latency draws, body and stream pacing) and does none
of the gateway's work: no cache, no provider headers, no metrics or telemetry, no known costs
(capacity queue, leak, telemetry or gateway cost).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from loadtests.stack.agent.app import (
    CHAT_PATH,
    HEALTH_PATHS,
    JSON,
    SSE,
    HandlerResult,
    error_response,
    not_allowed,
)
from loadtests.stack.agent.openai_api import SSE_DONE, ChatRequest, parse_chat_request
from loadtests.stack.agent.upstream import SimulatedUpstream
from loadtests.stack.http.parser import BadRequest, Request, Response, StreamingResponse

__all__ = ["DirectApp"]

_HEALTH_BODY = b'{"status":"ok","service":"edge-agent-stand-in-upstream"}'


class DirectApp:
    """``POST /v1/chat/completions`` and ``GET /health`` of the simulated upstream, nothing else."""

    def __init__(self, provider: SimulatedUpstream) -> None:
        self._provider = provider
        self._health = Response(200, _HEALTH_BODY, JSON)

    def handle(self, request: Request) -> HandlerResult:
        """Answer ``request`` now, or return a coroutine when it waits for the provider."""
        path, method = request.path, request.method
        if path == CHAT_PATH:
            if method != "POST":
                return not_allowed("POST")
            chat = parse_chat_request(request.body)
            if isinstance(chat, str):
                return error_response(400, chat)
            return self._complete(chat)
        if path in HEALTH_PATHS:
            return self._health if method in ("GET", "HEAD") else not_allowed("GET, HEAD")
        return error_response(404, f"no route {path!r}", "not_found_error")

    def reject(self, bad: BadRequest) -> Response:
        """Answer a request the HTTP parser could not accept."""
        return error_response(bad.status, bad.message)

    async def _complete(self, chat: ChatRequest) -> Response | StreamingResponse:
        body, _ = await self._provider.complete(chat)
        if chat.stream:
            return StreamingResponse(200, self._events(body, chat.include_usage), SSE)
        return Response(200, body, JSON)

    async def _events(self, body: bytes, include_usage: bool) -> AsyncGenerator[bytes, None]:
        async for event in self._provider.stream(body, include_usage):
            yield event
        yield SSE_DONE
