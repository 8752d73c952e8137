"""Telemetry on: a span and two metric points per request, a log record per error, over OTLP.

Imported only when telemetry is on (see telemetry.start_telemetry), so the SDK costs nothing off.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from loadtests.stack.agent.export_counts import (
    NO_COUNTS,
    AttemptCountingSession,
    CountedExporter,
    ExportCounts,
    count_drops,
)
from loadtests.stack.agent.telemetry_record import SHUTDOWN_FLUSH_S, RequestRecord

__all__ = ["SCOPE", "OtelTelemetry", "signal_endpoints"]

SCOPE = "edgeperf.stand_in"
# The SDK's own default; a stalled collector makes an export wait this long before it fails.
EXPORT_TIMEOUT_S = 10.0


def signal_endpoints(endpoint: str) -> dict[str, str]:
    """The per-signal OTLP/HTTP URLs under a collector base URL such as http://127.0.0.1:4318."""
    base = endpoint.rstrip("/")
    return {signal: f"{base}/v1/{signal}" for signal in ("traces", "metrics", "logs")}


def _severity(status: int) -> tuple[SeverityNumber, str]:
    if status >= 500:
        return SeverityNumber.ERROR, "ERROR"
    if status >= 400:
        return SeverityNumber.WARN, "WARN"
    return SeverityNumber.INFO, "INFO"


def _exporter(
    exporter_class: Any, url: str, timeout_s: float | None, signal: str, counts: ExportCounts
) -> Any:
    """An OTLP/HTTP gzip exporter of ``signal`` to ``url``, its items and attempts counted."""
    session = AttemptCountingSession()
    inner = exporter_class(url, timeout=timeout_s, compression=Compression.Gzip, session=session)
    return CountedExporter(inner, signal, counts, session)


class OtelTelemetry:
    """The SDK's three providers, batching and exporting on their own threads."""

    def __init__(
        self,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider,
        logger_provider: LoggerProvider,
        counts: ExportCounts = NO_COUNTS,
    ) -> None:
        self._counts = counts
        self._providers: tuple[Any, ...] = (tracer_provider, meter_provider, logger_provider)
        self._tracer = tracer_provider.get_tracer(SCOPE)
        meter = meter_provider.get_meter(SCOPE)
        self._requests = meter.create_counter(
            "edge_agent.requests", unit="{request}", description="Requests answered."
        )
        self._duration_s = meter.create_histogram(
            "edge_agent.request.duration", unit="s", description="Time to answer a request."
        )
        self._logger = logger_provider.get_logger(SCOPE)

    @classmethod
    def start(
        cls,
        endpoint: str,
        *,
        service_name: str,
        export_interval_s: float = 5.0,
        counts: ExportCounts = NO_COUNTS,
    ) -> OtelTelemetry:
        """Providers exporting gzip OTLP/HTTP protobuf to ``endpoint``'s /v1/{signal} paths.

        ``counts`` learns what became of every item (export_counts.py).
        """
        urls = signal_endpoints(endpoint)
        # The SDK reads OTEL_EXPORTER_OTLP_TIMEOUT (seconds) itself when given no timeout.
        timeout_s = None if "OTEL_EXPORTER_OTLP_TIMEOUT" in os.environ else EXPORT_TIMEOUT_S
        resource = Resource.create(
            {
                "service.name": service_name,
                "service.version": "stand-in",
                "service.instance.id": f"{os.uname().nodename}-{os.getpid()}",
            }
        )
        # shutdown_on_exit=False: the agent flushes with a deadline itself; an atexit flush
        # against a stalled collector could hold the process past the launcher's SIGKILL.
        tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        spans = BatchSpanProcessor(
            _exporter(OTLPSpanExporter, urls["traces"], timeout_s, "traces", counts)
        )
        tracer_provider.add_span_processor(count_drops(spans, "traces", counts))
        # The SDK's own variable wins, as it does for the span and log batch settings.
        interval_ms = float(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", export_interval_s * 1000))
        reader = PeriodicExportingMetricReader(
            _exporter(OTLPMetricExporter, urls["metrics"], timeout_s, "metrics", counts),
            export_interval_millis=interval_ms,
        )
        meter_provider = MeterProvider(
            resource=resource, metric_readers=[reader], shutdown_on_exit=False
        )
        logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        logs = BatchLogRecordProcessor(
            _exporter(OTLPLogExporter, urls["logs"], timeout_s, "logs", counts)
        )
        logger_provider.add_log_record_processor(count_drops(logs, "logs", counts))
        return cls(tracer_provider, meter_provider, logger_provider, counts)

    def record(self, request: RequestRecord) -> None:
        """Emit the request's span (ended now) and metric points, and a log record if it failed."""
        end_ns = time.time_ns()
        start_ns = end_ns - int(request.duration_s * 1e9)
        attributes: dict[str, str | int] = {
            "http.request.method": request.method,
            "http.route": request.route,
            "http.status_code": request.status,
        }
        if request.model:
            attributes["llm.model"] = attributes["gen_ai.request.model"] = request.model
            attributes["llm.provider"] = request.provider
        if request.cache_status:
            attributes["cache.status"] = request.cache_status
        if request.cache_layer:
            attributes["cache.layer"] = request.cache_layer
        span = self._tracer.start_span(
            f"{request.method} {request.route}",
            kind=SpanKind.SERVER,
            attributes=attributes,
            start_time=start_ns,
        )
        if request.status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        # Counted before the SDK sees it, so produced never lags delivered.
        self._counts.otlp_produced("traces", 1)
        span.end(end_time=end_ns)
        # Fewer metric attributes than span attributes: each one costs on every point recorded.
        point_attributes: dict[str, str | int] = {
            "http.route": request.route,
            "http.status_code": request.status,
            "llm.model": request.model,
            "cache.status": request.cache_status,
        }
        self._requests.add(1, point_attributes)
        self._duration_s.record(request.duration_s, point_attributes)
        if request.status >= 400:
            self._log_error(request, span, end_ns, attributes)

    def _log_error(
        self, request: RequestRecord, span: Any, end_ns: int, attributes: dict[str, str | int]
    ) -> None:
        # One log record per error, not per request: per request it costs the stand-in about
        # as much CPU as its spans do, which would misstate the agent's telemetry overhead.
        severity, severity_text = _severity(request.status)
        self._counts.otlp_produced("logs", 1)
        self._logger.emit(
            timestamp=end_ns,
            context=trace.set_span_in_context(span),
            severity_number=severity,
            severity_text=severity_text,
            body=f"{request.method} {request.route} {request.status} "
            f"{request.duration_s * 1000:.3f}ms {request.cache_status}".rstrip(),
            attributes=attributes,
        )

    def shutdown(self, timeout_s: float = SHUTDOWN_FLUSH_S) -> None:
        """Flush and stop the three providers in parallel, giving up after ``timeout_s``."""
        threads = [
            threading.Thread(target=provider.shutdown, name=f"otel-shutdown-{index}", daemon=True)
            for index, provider in enumerate(self._providers)
        ]
        for thread in threads:
            thread.start()
        deadline_s = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline_s - time.monotonic()))
