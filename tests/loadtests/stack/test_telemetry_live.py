"""The stand-in with the real OpenTelemetry SDK exporting to a real OTLP receiver, on and off."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.launchers.launch import start_agent, start_otlp_receiver
from loadtests.stack.otlp.config import ReceiverConfig
from tests.loadtests.stack.test_otlp_receiver_live import receiver_counts

CHAT = "/v1/chat/completions"


def _drive(agent_url: str) -> None:
    """A miss, a hit of the same prompt and a 404: three requests, one of them an error."""
    body = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": uuid.uuid4().hex}]}
    with httpx.Client(base_url=agent_url, trust_env=False) as client:
        assert client.post(CHAT, json=body).headers["X-Cache-Status"] == "MISS"
        assert client.post(CHAT, json=body).headers["X-Cache-Status"] == "HIT"
        assert client.get("/v1/nowhere").status_code == 404


@pytest.mark.live
def test_telemetry_on_exports_spans_metrics_and_error_logs_flushed_at_stop(tmp_path: Path) -> None:
    with start_otlp_receiver(ReceiverConfig(keep_spans=100), tmp_path / "otlp") as receiver:
        config = AgentConfig(telemetry=True, otlp_endpoint=receiver.url)
        agent = start_agent(config, tmp_path / "agent")
        _drive(agent.url)
        assert agent.stop() == 0  # SIGTERM flushes the SDK's batches before the exit
        spans = httpx.get(receiver.url + "/admin/spans", trust_env=False).json()
        counts = receiver_counts(receiver.metrics_url)
    chat = [s for s in spans if s["name"] == f"POST {CHAT}"]
    assert [s["attributes"]["cache.status"] for s in chat] == ["MISS", "HIT"]
    for span in chat:
        attributes = span["attributes"]
        assert attributes["llm.model"] == attributes["gen_ai.request.model"] == "claude-3-haiku"
        assert attributes["llm.provider"] == "anthropic"
        assert attributes["http.status_code"] == 200
        assert attributes["http.route"] == CHAT
    assert chat[1]["attributes"]["cache.layer"] == "L1"
    assert any(
        s["name"] == "GET other" and s["attributes"]["http.status_code"] == 404 for s in spans
    )
    # The launcher's health checks are requests too: at least one more span than we sent.
    assert counts["otelcol_receiver_accepted_spans_total"] == len(spans) >= 4
    assert counts["otelcol_receiver_accepted_metric_points_total"] > 0
    assert counts["otelcol_receiver_accepted_log_records_total"] == 1  # the 404
    assert counts["otelcol_receiver_received_bytes_total{traces}"] > 0


@pytest.mark.live
def test_telemetry_off_sends_nothing(tmp_path: Path) -> None:
    with start_otlp_receiver(ReceiverConfig(), tmp_path / "otlp") as receiver:
        config = AgentConfig(telemetry=False, otlp_endpoint=receiver.url)
        with start_agent(config, tmp_path / "agent") as agent:
            _drive(agent.url)
        counts = receiver_counts(receiver.metrics_url)
    assert set(counts.values()) == {0.0}


def test_telemetry_off_loads_neither_the_sdk_nor_redis() -> None:
    code = (
        "import sys\n"
        "from prometheus_client import CollectorRegistry\n"
        "from loadtests.stack.agent.main import AgentConfig, build_app\n"
        "from loadtests.stack.agent.metrics import AgentMetrics\n"
        "from loadtests.stack.agent.telemetry import start_telemetry\n"
        "metrics = AgentMetrics(CollectorRegistry())\n"
        "build_app(AgentConfig(), metrics, telemetry=start_telemetry(None))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'opentelemetry', 'redis'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "[]"
