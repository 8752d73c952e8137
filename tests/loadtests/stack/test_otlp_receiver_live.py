"""The OTLP receiver as a real process: exports over HTTP, its metrics page, faults at run time."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from prometheus_client.parser import text_string_to_metric_families

from loadtests.stack.launchers.launch import ReceiverProcess, start_otlp_receiver
from loadtests.stack.otlp.codec import JSON, PROTOBUF
from loadtests.stack.otlp.config import OtlpFaults, ReceiverConfig
from tests.loadtests.stack.otlp_requests import logs_request, metrics_json, traces_request

pytestmark = pytest.mark.live


def receiver_counts(metrics_url: str) -> dict[str, float]:
    """The receiver's otelcol_* samples by name (received bytes by ``name{signal}``)."""
    counts = {}
    for family in text_string_to_metric_families(httpx.get(metrics_url, trust_env=False).text):
        for sample in family.samples:
            if sample.name.startswith("otelcol_") and sample.name.endswith("_total"):
                signal = sample.labels.get("signal")
                counts[f"{sample.name}{{{signal}}}" if signal else sample.name] = sample.value
                assert (sample.labels["receiver"], sample.labels["transport"]) == ("otlp", "http")
    return counts


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ReceiverProcess]:
    with start_otlp_receiver(ReceiverConfig(), tmp_path) as process:
        yield process


def test_protobuf_gzip_and_json_exports_are_counted_on_the_metrics_page(
    receiver: ReceiverProcess,
) -> None:
    traces = gzip.compress(traces_request((4, 1)).SerializeToString())
    logs = logs_request(3).SerializeToString()
    with httpx.Client(base_url=receiver.url, trust_env=False) as client:
        ok_traces = client.post(
            "/v1/traces",
            content=traces,
            headers={"Content-Type": PROTOBUF, "Content-Encoding": "gzip"},
        )
        ok_metrics = client.post(
            "/v1/metrics", content=metrics_json(), headers={"Content-Type": JSON}
        )
        ok_logs = client.post("/v1/logs", content=logs, headers={"Content-Type": PROTOBUF})
    assert [r.status_code for r in (ok_traces, ok_metrics, ok_logs)] == [200, 200, 200]
    assert ok_metrics.headers["Content-Type"] == JSON and ok_metrics.json() == {}
    assert ok_logs.headers["Content-Type"] == PROTOBUF
    assert ExportLogsServiceResponse.FromString(ok_logs.content) == ExportLogsServiceResponse()
    counts = receiver_counts(receiver.metrics_url)
    assert counts["otelcol_receiver_accepted_spans_total"] == 5
    assert counts["otelcol_receiver_accepted_metric_points_total"] == 3
    assert counts["otelcol_receiver_accepted_log_records_total"] == 3
    assert counts["otelcol_receiver_refused_spans_total"] == 0
    assert counts["otelcol_receiver_received_bytes_total{traces}"] == len(traces)
    assert counts["otelcol_receiver_received_bytes_total{logs}"] == len(logs)


def test_faults_set_at_run_time_refuse_delay_and_stall(receiver: ReceiverProcess) -> None:
    body = traces_request((2,)).SerializeToString()
    headers = {"Content-Type": PROTOBUF}
    with httpx.Client(base_url=receiver.url, trust_env=False, timeout=5) as client:
        assert (
            client.post("/admin/faults", json={"refuse_fraction": 1, "refuse_status": 429}).json()[
                "refuse_status"
            ]
            == 429
        )
        assert client.post("/v1/traces", content=body, headers=headers).status_code == 429
        client.post("/admin/faults", json={"refuse_fraction": 0, "latency_ms": 150})
        slow = client.post("/v1/traces", content=body, headers=headers)
        assert slow.status_code == 200 and slow.elapsed.total_seconds() >= 0.14
        client.post("/admin/faults", json={"latency_ms": 0, "stall_for_s": 0.4})
        held = client.post("/v1/traces", content=body, headers=headers)
        assert held.status_code == 200 and held.elapsed.total_seconds() >= 0.35
        assert client.post("/admin/faults", json={"refuse_fraction": 2}).status_code == 400
    counts = receiver_counts(receiver.metrics_url)
    assert counts["otelcol_receiver_refused_spans_total"] == 2
    assert counts["otelcol_receiver_accepted_spans_total"] == 4


def test_fault_flags_reach_the_process(tmp_path: Path) -> None:
    config = ReceiverConfig(faults=OtlpFaults(refuse_fraction=1.0, refuse_status=503))
    with start_otlp_receiver(config, tmp_path) as receiver:
        response = httpx.post(
            receiver.url + "/v1/logs",
            content=b"{}",
            headers={"Content-Type": JSON},
            trust_env=False,
        )
        assert (response.status_code, response.json()["code"]) == (503, 14)
        assert receiver.stop() == 0
    assert not (tmp_path / "otlp-receiver.ready.json").exists()
