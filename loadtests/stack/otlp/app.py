"""The OTLP receiver's app: count what arrives under the collector's metric names, inject faults."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from prometheus_client import CollectorRegistry, Counter, ProcessCollector, generate_latest

from loadtests.errors import StackError
from loadtests.stack.http.parser import BadRequest, Request, Response
from loadtests.stack.otlp.codec import (
    JSON,
    PATH_SIGNALS,
    Decoded,
    Rejection,
    Signal,
    content_type_of,
    decode_export,
    status_body,
    success_body,
)
from loadtests.stack.otlp.config import OtlpFaults

__all__ = ["ADMIN_PATH", "FaultState", "OtlpReceiverApp", "ReceiverMetrics"]

ADMIN_PATH = "/admin/faults"
SPANS_PATH = "/admin/spans"
# The collector's receiver metrics name their items so: spans, metric points, log records.
ITEM_NAMES: dict[Signal, str] = {
    "traces": "spans",
    "metrics": "metric_points",
    "logs": "log_records",
}
_ITEM_HELP = {"traces": "spans", "metrics": "metric data points", "logs": "log records"}
_LABELS = {"receiver": "otlp", "transport": "http"}


class ReceiverMetrics:
    """``otelcol_receiver_{accepted,refused}_*_total`` and received bytes, plus process metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._accepted: dict[Signal, Any] = {}
        self._refused: dict[Signal, Any] = {}
        received = Counter(
            "otelcol_receiver_received_bytes",
            "Bytes of OTLP export request bodies as received on the wire (before decompression).",
            ["receiver", "transport", "signal"],
            registry=registry,
        )
        self._received_bytes = {s: received.labels(signal=s, **_LABELS) for s in ITEM_NAMES}
        for signal, item in ITEM_NAMES.items():
            for outcome, into, why in (
                ("accepted", self._accepted, "successfully pushed into the pipeline"),
                ("refused", self._refused, "that could not be pushed into the pipeline"),
            ):
                counter = Counter(
                    f"otelcol_receiver_{outcome}_{item}",
                    f"Number of {_ITEM_HELP[signal]} {why}.",
                    list(_LABELS),
                    registry=registry,
                )
                into[signal] = counter.labels(**_LABELS)
        ProcessCollector(registry=registry)

    def received(self, signal: Signal, size_bytes: int) -> None:
        """Count the wire bytes of one export request."""
        self._received_bytes[signal].inc(size_bytes)

    def accepted(self, signal: Signal, items: int) -> None:
        """Count ``items`` accepted."""
        self._accepted[signal].inc(items)

    def refused(self, signal: Signal, items: int) -> None:
        """Count ``items`` refused."""
        self._refused[signal].inc(items)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)


class FaultState:
    """The faults in force now: the configured ones, changed at run time by the admin endpoint."""

    def __init__(
        self,
        faults: OtlpFaults,
        rng: random.Random,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.faults = faults
        self._rng = rng
        self._clock_s = clock_s
        started_s = clock_s()
        self._stalls: list[tuple[float, float]] = []
        if faults.stall_at_s is not None and faults.stall_for_s > 0:
            self.stall_from(started_s + faults.stall_at_s, faults.stall_for_s)

    def stall_from(self, start_s: float, duration_s: float) -> None:
        """Hold exports from ``start_s`` (this state's clock) for ``duration_s`` seconds."""
        self._stalls = [w for w in self._stalls if w[1] > self._clock_s()]
        self._stalls.append((start_s, start_s + duration_s))

    def stall_remaining_s(self) -> float:
        """Seconds until the stall in force now ends; 0 when exports are answered."""
        now_s = self._clock_s()
        return max((end - now_s for start, end in self._stalls if start <= now_s < end), default=0)

    def draw_refusal(self) -> int | None:
        """The status to refuse the next export with, or None; one draw per export."""
        fraction = self.faults.refuse_fraction
        if fraction > 0 and self._rng.random() < fraction:
            return self.faults.refuse_status
        return None

    def update(self, changes: dict[str, Any]) -> None:
        """Apply an admin change; ``stall_for_s`` starts a stall now. StackError when invalid."""
        changes = dict(changes)
        stall_for_s = changes.pop("stall_for_s", None)
        settings = {"refuse_fraction", "refuse_status", "retry_after_s", "latency_ms"}
        unknown = sorted(set(changes) - settings)
        if unknown:
            raise StackError(f"unknown fault setting(s) {unknown}")
        if stall_for_s is not None and (
            isinstance(stall_for_s, bool) or not isinstance(stall_for_s, int | float)
        ):
            raise StackError(f"stall_for_s must be a number of seconds, got {stall_for_s!r}")
        faults = dataclasses.replace(self.faults, **changes)
        if stall_for_s is not None and stall_for_s < 0:
            raise StackError(f"stall_for_s must be >= 0, got {stall_for_s}")
        self.faults = faults
        if stall_for_s:
            self.stall_from(self._clock_s(), float(stall_for_s))

    def describe(self) -> dict[str, Any]:
        """The faults in force as JSON-ready data, with the seconds left of a current stall."""
        return {**dataclasses.asdict(self.faults), "stalled_for_s": self.stall_remaining_s()}


def _json(status: int, data: Any) -> Response:
    return Response(status, json.dumps(data).encode(), JSON)


class OtlpReceiverApp:
    """POST /v1/{traces,metrics,logs}, GET /health, GET/POST /admin/faults, GET /admin/spans.

    ``keep_spans`` > 0 keeps that many of the last accepted spans (name and attributes) for
    /admin/spans; 0 skips the extra decoding.
    """

    def __init__(
        self,
        metrics: ReceiverMetrics,
        faults: FaultState,
        *,
        keep_spans: int = 0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._metrics = metrics
        self.faults = faults
        self._sleep = sleep
        self._recent_spans: deque[dict[str, Any]] = deque(maxlen=max(keep_spans, 0))

    def handle(self, request: Request) -> Response | Coroutine[Any, Any, Response]:
        """Answer an export now, or return a coroutine when a fault makes it wait."""
        signal = PATH_SIGNALS.get(request.path)
        if signal is not None:
            if request.method != "POST":
                return _json(405, {"error": "method not allowed; use POST"})
            return self._export(signal, request)
        if request.path == "/health":
            return _json(200, {"status": "ok", "service": "otlp-receiver-stand-in"})
        if request.path == ADMIN_PATH:
            return self._admin(request)
        if request.path == SPANS_PATH:
            return _json(200, list(self._recent_spans))
        return _json(404, {"error": f"no route {request.path!r}"})

    def reject(self, bad: BadRequest) -> Response:
        """Answer a request the HTTP parser could not accept."""
        return _json(bad.status, {"error": bad.message})

    def _export(self, signal: Signal, request: Request) -> Response | Coroutine[Any, Any, Response]:
        self._metrics.received(signal, len(request.body))
        headers = request.headers
        decoded = decode_export(
            signal,
            request.body,
            headers.get("content-type", ""),
            headers.get("content-encoding", ""),
            keep_spans=self._recent_spans.maxlen != 0,
        )
        if isinstance(decoded, Rejection):
            body = status_body(decoded.status, decoded.message, decoded.encoding)
            return Response(decoded.status, body, content_type_of(decoded.encoding))
        refuse_status = self.faults.draw_refusal()
        if self.faults.faults.latency_ms > 0 or self.faults.stall_remaining_s() > 0:
            return self._delayed(decoded, refuse_status)
        return self._answer(decoded, refuse_status)

    async def _delayed(self, decoded: Decoded, refuse_status: int | None) -> Response:
        try:
            # A stall can be extended while it lasts, so look again after each wait.
            while (remaining_s := self.faults.stall_remaining_s()) > 0:
                await self._sleep(remaining_s)
            await self._sleep(self.faults.faults.latency_ms / 1000.0)
        except asyncio.CancelledError:
            # The client gave up (or we are stopping): these items never entered the pipeline.
            self._metrics.refused(decoded.signal, decoded.items)
            raise
        return self._answer(decoded, refuse_status)

    def _answer(self, decoded: Decoded, refuse_status: int | None) -> Response:
        content_type = content_type_of(decoded.encoding)
        if refuse_status is not None:
            self._metrics.refused(decoded.signal, decoded.items)
            message = f"refused by fault injection ({refuse_status})"
            body = status_body(refuse_status, message, decoded.encoding)
            retry_after_s = self.faults.faults.retry_after_s
            headers = () if retry_after_s is None else (("Retry-After", f"{retry_after_s:g}"),)
            return Response(refuse_status, body, content_type, headers)
        self._metrics.accepted(decoded.signal, decoded.items)
        self._recent_spans.extend(decoded.spans)
        return Response(200, success_body(decoded.signal, decoded.encoding), content_type)

    def _admin(self, request: Request) -> Response:
        if request.method == "GET":
            return _json(200, self.faults.describe())
        if request.method != "POST":
            return _json(405, {"error": "method not allowed; use GET or POST"})
        try:
            changes = json.loads(request.body or b"{}")
            if not isinstance(changes, dict):
                raise StackError("the body must be a JSON object of fault settings")
            self.faults.update(changes)
        except (ValueError, TypeError, StackError) as exc:
            return _json(400, {"error": str(exc)})
        return _json(200, self.faults.describe())
