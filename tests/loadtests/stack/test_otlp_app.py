"""The OTLP receiver's app in-process: counting under the collector's names, faults, admin."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Coroutine
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from loadtests.errors import StackError
from loadtests.stack.http.parser import Request, Response
from loadtests.stack.otlp.app import FaultState, OtlpReceiverApp, ReceiverMetrics
from loadtests.stack.otlp.codec import JSON, PROTOBUF
from loadtests.stack.otlp.config import OtlpFaults
from tests.loadtests.stack.otlp_requests import logs_request, metrics_request, traces_request

LABELS = {"receiver": "otlp", "transport": "http"}
TRACES = traces_request((2, 3)).SerializeToString()  # 5 spans


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 0.0
        self.slept_s: list[float] = []

    def __call__(self) -> float:
        return self.now_s

    async def sleep(self, seconds: float) -> None:
        self.slept_s.append(seconds)
        self.now_s += seconds


def _app(faults: OtlpFaults | None = None, seed: int = 1, clock: FakeClock | None = None):
    faults = faults or OtlpFaults()
    clock = clock or FakeClock()
    metrics = ReceiverMetrics(CollectorRegistry())
    state = FaultState(faults, random.Random(seed), clock_s=clock)
    return OtlpReceiverApp(metrics, state, sleep=clock.sleep, keep_spans=10), metrics, clock


def _post(path: str, body: bytes, content_type: str = PROTOBUF) -> Request:
    headers = {"content-type": content_type, "content-length": str(len(body))}
    return Request("POST", path, "", True, headers, body, True)


def _answer(result: Response | Coroutine[Any, Any, Response]) -> Response:
    return result if isinstance(result, Response) else asyncio.run(result)


def _value(metrics: ReceiverMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {**LABELS, **labels})


def test_exports_are_counted_under_the_collector_names() -> None:
    app, metrics, _ = _app()
    metrics_body = metrics_request().SerializeToString()
    logs_body = logs_request(4).SerializeToString()
    for request in (
        _post("/v1/traces", TRACES),
        _post("/v1/metrics", metrics_body),
        _post("/v1/logs", logs_body),
    ):
        response = _answer(app.handle(request))
        assert (response.status, response.content_type) == (200, PROTOBUF)
    assert _value(metrics, "otelcol_receiver_accepted_spans_total") == 5
    assert _value(metrics, "otelcol_receiver_accepted_metric_points_total") == 6
    assert _value(metrics, "otelcol_receiver_accepted_log_records_total") == 4
    assert _value(metrics, "otelcol_receiver_refused_spans_total") == 0
    received = "otelcol_receiver_received_bytes_total"
    assert _value(metrics, received, signal="traces") == len(TRACES)
    assert _value(metrics, received, signal="logs") == len(logs_body)
    assert metrics.registry.get_sample_value("process_cpu_seconds_total") is not None
    spans = json.loads(
        _answer(app.handle(Request("GET", "/admin/spans", "", True, {}, b"", True))).body
    )
    assert len(spans) == 5 and spans[0]["attributes"] == {"cache.status": "HIT"}


def test_a_malformed_export_is_400_and_counts_no_items() -> None:
    app, metrics, _ = _app()
    response = _answer(app.handle(_post("/v1/traces", b"{broken", JSON)))
    assert (response.status, response.content_type) == (400, JSON)
    assert json.loads(response.body)["code"] == 3  # INVALID_ARGUMENT
    assert _value(metrics, "otelcol_receiver_accepted_spans_total") == 0
    assert _value(metrics, "otelcol_receiver_refused_spans_total") == 0
    assert _answer(app.handle(Request("GET", "/v1/traces", "", True, {}, b"", True))).status == 405


def test_refuse_fraction_refuses_about_that_share_of_2000_exports() -> None:
    app, metrics, _ = _app(OtlpFaults(refuse_fraction=0.05), seed=7)
    statuses = [_answer(app.handle(_post("/v1/traces", TRACES))).status for _ in range(2000)]
    refused = statuses.count(503)
    assert refused + statuses.count(200) == 2000
    # Expected 100 (sd about 9.7); the seeded draw makes the exact figure repeatable.
    assert 65 <= refused <= 135
    assert _value(metrics, "otelcol_receiver_refused_spans_total") == 5 * refused
    assert _value(metrics, "otelcol_receiver_accepted_spans_total") == 5 * (2000 - refused)
    again, _, _ = _app(OtlpFaults(refuse_fraction=0.05), seed=7)
    repeat = [_answer(again.handle(_post("/v1/traces", TRACES))).status for _ in range(2000)]
    assert repeat == statuses


@pytest.mark.parametrize(("status", "grpc_code"), [(503, 14), (429, 8)])
def test_refusals_answer_the_configured_status_with_an_otlp_status(
    status: int, grpc_code: int
) -> None:
    app, metrics, _ = _app(OtlpFaults(refuse_fraction=1.0, refuse_status=status))
    response = _answer(app.handle(_post("/v1/logs", logs_request(3).SerializeToString())))
    assert response.status == status
    json_response = _answer(app.handle(_post("/v1/traces", b"{}", JSON)))
    assert (json_response.status, json.loads(json_response.body)["code"]) == (status, grpc_code)
    assert _value(metrics, "otelcol_receiver_refused_log_records_total") == 3


def test_latency_delays_every_export_answer() -> None:
    app, metrics, clock = _app(OtlpFaults(latency_ms=250))
    result = app.handle(_post("/v1/traces", TRACES))
    assert not isinstance(result, Response)
    assert _answer(result).status == 200
    assert clock.slept_s == [0.25]
    assert _value(metrics, "otelcol_receiver_accepted_spans_total") == 5


def test_a_configured_stall_holds_exports_between_its_start_and_end() -> None:
    clock = FakeClock()
    app, metrics, _ = _app(OtlpFaults(stall_at_s=10, stall_for_s=5), clock=clock)
    assert isinstance(app.handle(_post("/v1/traces", TRACES)), Response)  # before the stall
    clock.now_s = 12.0
    held = app.handle(_post("/v1/traces", TRACES))
    assert not isinstance(held, Response)
    assert _value(metrics, "otelcol_receiver_accepted_spans_total") == 5  # not yet counted
    assert _answer(held).status == 200
    assert clock.slept_s == [3.0, 0.0] and clock.now_s == 15.0
    assert isinstance(app.handle(_post("/v1/traces", TRACES)), Response)  # after it


def test_an_export_abandoned_during_a_stall_counts_as_refused() -> None:
    app, metrics, _ = _app(OtlpFaults(stall_at_s=0, stall_for_s=60))

    async def abandon() -> None:
        task = asyncio.ensure_future(app.handle(_post("/v1/traces", TRACES)))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    app._sleep = asyncio.sleep  # a real wait, so that the task is still held when cancelled
    asyncio.run(abandon())
    assert _value(metrics, "otelcol_receiver_refused_spans_total") == 5


def test_admin_endpoint_changes_faults_at_run_time() -> None:
    app, _, clock = _app()

    def admin(body: dict[str, Any] | None = None) -> Response:
        if body is None:
            return _answer(app.handle(Request("GET", "/admin/faults", "", True, {}, b"", True)))
        return _answer(app.handle(_post("/admin/faults", json.dumps(body).encode(), JSON)))

    assert json.loads(admin().body)["refuse_fraction"] == 0.0
    changed = admin({"refuse_fraction": 1.0, "refuse_status": 429, "stall_for_s": 2})
    assert changed.status == 200
    assert json.loads(changed.body)["stalled_for_s"] == 2.0
    held = app.handle(_post("/v1/traces", TRACES))
    assert not isinstance(held, Response)
    assert _answer(held).status == 429
    assert clock.slept_s == [2.0, 0.0]
    for bad in ({"refuse_status": 500}, {"nope": 1}, {"stall_for_s": "x"}, {"latency_ms": -1}):
        response = admin(bad)
        assert response.status == 400, bad
    assert app.faults.faults.refuse_status == 429  # a refused change leaves the faults as they were


def test_faults_are_validated() -> None:
    with pytest.raises(StackError, match="refuse_fraction"):
        OtlpFaults(refuse_fraction=1.5)
    with pytest.raises(StackError, match="refuse_status"):
        OtlpFaults(refuse_status=500)
    with pytest.raises(StackError, match="stall_for_s needs stall_at_s"):
        OtlpFaults(stall_for_s=3)
