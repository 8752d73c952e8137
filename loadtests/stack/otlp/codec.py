"""OTLP/HTTP wire format: decode export requests (protobuf or JSON, gzip), count items, reply."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any, Literal

from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = [
    "JSON",
    "PATH_SIGNALS",
    "PROTOBUF",
    "Decoded",
    "Encoding",
    "Rejection",
    "Signal",
    "decode_export",
    "status_body",
    "success_body",
]

Signal = Literal["traces", "metrics", "logs"]
Encoding = Literal["protobuf", "json"]
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
PATH_SIGNALS: dict[str, Signal] = {
    "/v1/traces": "traces",
    "/v1/metrics": "metrics",
    "/v1/logs": "logs",
}
# The collector's default max_request_body_size; also the cap after decompression.
MAX_EXPORT_BYTES = 20 * 1024 * 1024

_CONTENT_TYPES: dict[str, Encoding] = {PROTOBUF: "protobuf", JSON: "json"}
_REQUESTS: dict[Signal, Any] = {
    "traces": ExportTraceServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "logs": ExportLogsServiceRequest,
}
_RESPONSES: dict[Signal, Any] = {
    "traces": ExportTraceServiceResponse,
    "metrics": ExportMetricsServiceResponse,
    "logs": ExportLogsServiceResponse,
}
_METRIC_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")
# gRPC status codes carried in the google.rpc.Status body of a failed export.
GRPC_CODES = {400: 3, 413: 8, 415: 3, 429: 8, 503: 14}


@dataclass(frozen=True, slots=True)
class Decoded:
    """A well-formed export request: signal, wire encoding, item count (and spans if asked).

    ``spans`` holds ``{"name": ..., "attributes": {...}}`` per span, only with ``keep_spans``.
    """

    signal: Signal
    encoding: Encoding
    items: int
    spans: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a request is not a well-formed export: the HTTP status and message to answer."""

    status: int
    message: str
    encoding: Encoding = "json"


def _inflate(body: bytes, content_encoding: str) -> bytes | Rejection:
    coding = content_encoding.strip().lower()
    if coding in ("", "identity"):
        return body
    if coding not in ("gzip", "deflate"):
        return Rejection(415, f"unsupported Content-Encoding {content_encoding!r}")
    inflater = zlib.decompressobj(wbits=31 if coding == "gzip" else 15)
    try:
        data = inflater.decompress(body, MAX_EXPORT_BYTES)
    except zlib.error as exc:
        return Rejection(400, f"cannot {coding}-decode the body: {exc}")
    if inflater.unconsumed_tail:
        return Rejection(413, f"body inflates to more than {MAX_EXPORT_BYTES} bytes")
    return data


def _pb_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


def _summaries_protobuf(request: Any) -> tuple[dict[str, Any], ...]:
    return tuple(
        {"name": span.name, "attributes": {a.key: _pb_value(a.value) for a in span.attributes}}
        for r in request.resource_spans
        for s in r.scope_spans
        for span in s.spans
    )


def _json_value(value: Any) -> Any:
    # OTLP JSON wraps each value as {"stringValue": ...}, {"intValue": "12"} and so on.
    return next(iter(value.values()), None) if isinstance(value, dict) else value


def _summaries_json(request: Any) -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "name": span.get("name", ""),
            "attributes": {
                a["key"]: _json_value(a.get("value")) for a in _items(span, "attributes")
            },
        }
        for r in _items(request, "resource_spans")
        for s in _items(r, "scope_spans")
        for span in _items(s, "spans")
    )


def _count_protobuf(signal: Signal, request: Any) -> int:
    if signal == "traces":
        return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    if signal == "logs":
        return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
    points = 0
    for resource in request.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    points += len(getattr(metric, kind).data_points)
    return points


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _items(node: Any, name: str) -> list[Any]:
    """``node[name]`` in OTLP JSON: lowerCamelCase, or the proto name receivers also accept."""
    if not isinstance(node, dict):
        raise ValueError(f"expected an object holding {_camel(name)!r}")
    value = node.get(_camel(name), node.get(name, []))
    if not isinstance(value, list):
        raise ValueError(f"{_camel(name)!r} must be an array")
    return value


def _count_json(signal: Signal, request: Any) -> int:
    if signal == "traces":
        return sum(
            len(_items(s, "spans"))
            for r in _items(request, "resource_spans")
            for s in _items(r, "scope_spans")
        )
    if signal == "logs":
        return sum(
            len(_items(s, "log_records"))
            for r in _items(request, "resource_logs")
            for s in _items(r, "scope_logs")
        )
    points = 0
    for resource in _items(request, "resource_metrics"):
        for scope in _items(resource, "scope_metrics"):
            for metric in _items(scope, "metrics"):
                for kind in _METRIC_KINDS:
                    data_node = metric.get(_camel(kind), metric.get(kind))
                    if data_node is not None:
                        points += len(_items(data_node, "data_points"))
    return points


def decode_export(
    signal: Signal,
    body: bytes,
    content_type: str,
    content_encoding: str = "",
    *,
    keep_spans: bool = False,
) -> Decoded | Rejection:
    """Decode one export request and count its spans, metric data points or log records."""
    media_type = content_type.partition(";")[0].strip().lower()
    encoding = _CONTENT_TYPES.get(media_type)
    if encoding is None:
        return Rejection(415, f"Content-Type must be {PROTOBUF} or {JSON}, got {content_type!r}")
    data = _inflate(body, content_encoding)
    if isinstance(data, Rejection):
        return Rejection(data.status, data.message, encoding)
    keep = keep_spans and signal == "traces"
    try:
        if encoding == "protobuf":
            request = _REQUESTS[signal].FromString(data)
            items = _count_protobuf(signal, request)
            spans = _summaries_protobuf(request) if keep else ()
        else:
            request = json.loads(data)
            items = _count_json(signal, request)
            spans = _summaries_json(request) if keep else ()
    except (DecodeError, ValueError, TypeError, AttributeError, KeyError) as exc:
        # Bad JSON, or JSON of the wrong shape, raises any of the last four.
        return Rejection(400, f"not a valid OTLP {signal} export ({encoding}): {exc}", encoding)
    return Decoded(signal, encoding, items, spans)


def success_body(signal: Signal, encoding: Encoding) -> bytes:
    """The Export*ServiceResponse of full success, in the request's encoding."""
    if encoding == "protobuf":
        return bytes(_RESPONSES[signal]().SerializeToString())
    return b"{}"


def status_body(http_status: int, message: str, encoding: Encoding) -> bytes:
    """The google.rpc.Status body that OTLP/HTTP puts in a failed response."""
    code = GRPC_CODES.get(http_status, 2)
    if encoding == "protobuf":
        return bytes(Status(code=code, message=message).SerializeToString())
    return json.dumps({"code": code, "message": message}).encode()


def content_type_of(encoding: Encoding) -> str:
    """The Content-Type of a response in ``encoding``."""
    return PROTOBUF if encoding == "protobuf" else JSON
