"""Real OTLP export requests for the receiver tests, built with opentelemetry-proto's classes."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span


def traces_request(spans_per_scope: tuple[int, ...] = (2, 3)) -> ExportTraceServiceRequest:
    """Two resources' worth of spans: one scope per entry of ``spans_per_scope``."""
    scopes = [
        ScopeSpans(
            spans=[
                Span(
                    trace_id=bytes(16),
                    span_id=(index + 1).to_bytes(8, "big"),
                    name="POST /v1/chat/completions",
                    attributes=[KeyValue(key="cache.status", value=AnyValue(string_value="HIT"))],
                )
                for index in range(count)
            ]
        )
        for count in spans_per_scope
    ]
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(scope_spans=scopes[:1]),
            ResourceSpans(scope_spans=scopes[1:]),
        ]
    )


def metrics_request() -> ExportMetricsServiceRequest:
    """A gauge with 2 points, a sum with 1 and a histogram with 3: 6 metric data points."""
    points = [NumberDataPoint(as_int=1), NumberDataPoint(as_double=2.5)]
    metrics = [
        Metric(name="g", gauge=Gauge(data_points=points)),
        Metric(name="s", sum=Sum(data_points=points[:1], is_monotonic=True)),
        Metric(name="h", histogram=Histogram(data_points=[HistogramDataPoint(count=1)] * 3)),
    ]
    return ExportMetricsServiceRequest(
        resource_metrics=[ResourceMetrics(scope_metrics=[ScopeMetrics(metrics=metrics)])]
    )


def logs_request(records: int = 4) -> ExportLogsServiceRequest:
    """One scope with ``records`` log records."""
    logs = [LogRecord(body=AnyValue(string_value=f"line {i}")) for i in range(records)]
    return ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=logs)])]
    )


def traces_json(spans: int = 3) -> bytes:
    """An OTLP JSON traces export (lowerCamelCase, hex ids) with ``spans`` spans."""
    data: dict[str, Any] = {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "scopeSpans": [
                    {
                        "scope": {"name": "test"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": f"{i + 1:016x}",
                                "name": f"span {i}",
                                "kind": 2,
                                "attributes": [
                                    {"key": "http.status_code", "value": {"intValue": "200"}}
                                ],
                            }
                            for i in range(spans)
                        ],
                    }
                ],
            }
        ]
    }
    return json.dumps(data).encode()


def metrics_json() -> bytes:
    """An OTLP JSON metrics export: a sum with 2 points and an exponential histogram with 1."""
    data = {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            {"name": "s", "sum": {"dataPoints": [{"asInt": "1"}, {"asInt": "2"}]}},
                            {"name": "e", "exponentialHistogram": {"dataPoints": [{"count": "1"}]}},
                        ]
                    }
                ]
            }
        ]
    }
    return json.dumps(data).encode()


def logs_json(records: int = 2) -> bytes:
    """An OTLP JSON logs export with ``records`` log records."""
    data = {
        "resourceLogs": [
            {"scopeLogs": [{"logRecords": [{"body": {"stringValue": "x"}}] * records}]}
        ]
    }
    return json.dumps(data).encode()
