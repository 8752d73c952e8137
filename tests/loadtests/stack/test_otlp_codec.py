"""Decoding and counting OTLP/HTTP export requests, and the bodies the receiver answers."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from loadtests.stack.otlp.codec import (
    JSON,
    PROTOBUF,
    Decoded,
    Rejection,
    decode_export,
    status_body,
    success_body,
)
from tests.loadtests.stack.otlp_requests import (
    logs_json,
    logs_request,
    metrics_json,
    metrics_request,
    traces_json,
    traces_request,
)


def test_protobuf_exports_count_spans_metric_points_and_log_records() -> None:
    traces = traces_request((2, 3)).SerializeToString()
    assert decode_export("traces", traces, PROTOBUF) == Decoded("traces", "protobuf", 5)
    metrics = metrics_request().SerializeToString()
    assert decode_export("metrics", metrics, PROTOBUF) == Decoded("metrics", "protobuf", 6)
    logs = logs_request(4).SerializeToString()
    assert decode_export("logs", logs, f"{PROTOBUF}; charset=x") == Decoded("logs", "protobuf", 4)


def test_json_exports_count_the_same_items() -> None:
    assert decode_export("traces", traces_json(3), JSON) == Decoded("traces", "json", 3)
    assert decode_export("metrics", metrics_json(), JSON) == Decoded("metrics", "json", 3)
    assert decode_export("logs", logs_json(2), JSON) == Decoded("logs", "json", 2)
    snake = json.dumps({"resource_logs": [{"scope_logs": [{"log_records": [{}, {}, {}]}]}]})
    assert decode_export("logs", snake.encode(), JSON).items == 3  # type: ignore[union-attr]
    assert decode_export("traces", b"{}", JSON) == Decoded("traces", "json", 0)


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("identity", lambda b: b)],
)
def test_compressed_bodies_are_inflated(encoding: str, compress) -> None:
    body = compress(traces_request((7,)).SerializeToString())
    assert decode_export("traces", body, PROTOBUF, encoding).items == 7  # type: ignore[union-attr]


def test_keep_spans_returns_names_and_attributes_from_both_encodings() -> None:
    decoded = decode_export(
        "traces", traces_request((1,)).SerializeToString(), PROTOBUF, keep_spans=True
    )
    assert isinstance(decoded, Decoded)
    assert decoded.spans == (
        {"name": "POST /v1/chat/completions", "attributes": {"cache.status": "HIT"}},
    )
    from_json = decode_export("traces", traces_json(1), JSON, keep_spans=True)
    assert isinstance(from_json, Decoded)
    assert from_json.spans == ({"name": "span 0", "attributes": {"http.status_code": "200"}},)


@pytest.mark.parametrize(
    ("body", "content_type", "content_encoding", "status", "fragment"),
    [
        (b"x", "text/plain", "", 415, "Content-Type must be"),
        (b"\xff\xff\xff", PROTOBUF, "", 400, "not a valid OTLP traces export (protobuf)"),
        (b"{not json", JSON, "", 400, "not a valid OTLP traces export (json)"),
        (b'{"resourceSpans": {}}', JSON, "", 400, "'resourceSpans' must be an array"),
        (b"not gzip", PROTOBUF, "gzip", 400, "cannot gzip-decode"),
        (b"", PROTOBUF, "br", 415, "unsupported Content-Encoding"),
    ],
)
def test_malformed_requests_are_rejected_with_a_reason(
    body: bytes, content_type: str, content_encoding: str, status: int, fragment: str
) -> None:
    rejection = decode_export("traces", body, content_type, content_encoding)
    assert isinstance(rejection, Rejection)
    assert rejection.status == status
    assert fragment in rejection.message


def test_response_bodies_are_otlp_messages_in_the_request_encoding() -> None:
    pb = success_body("traces", "protobuf")
    assert ExportTraceServiceResponse.FromString(pb) == ExportTraceServiceResponse()
    assert json.loads(success_body("logs", "json")) == {}
    status = Status.FromString(status_body(503, "busy", "protobuf"))
    assert (status.code, status.message) == (14, "busy")  # UNAVAILABLE
    assert json.loads(status_body(429, "slow down", "json")) == {"code": 8, "message": "slow down"}
