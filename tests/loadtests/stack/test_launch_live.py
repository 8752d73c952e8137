"""Starting and stopping the stack's real processes: the stand-in agent and Prometheus."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from loadtests.errors import StackError
from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.launchers.launch import (
    AgentProcess,
    render_prometheus_config,
    start_agent,
    start_prometheus,
)

live = pytest.mark.live


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _query(prometheus_url: str, promql: str) -> list[dict]:
    response = httpx.get(
        prometheus_url + "/api/v1/query", params={"query": promql}, trust_env=False
    )
    response.raise_for_status()
    return response.json()["data"]["result"]


@live
def test_prometheus_scrapes_the_agent_before_start_returns(
    agent: AgentProcess, tmp_path: Path
) -> None:
    model = f"prom-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=agent.url, trust_env=False) as client:
        for index in range(4):
            body = {"model": model, "messages": [{"role": "user", "content": f"q{index % 2}"}]}
            assert client.post("/v1/chat/completions", json=body).status_code == 200

    # The requests above precede the first scrape, which start_prometheus waits for; other work
    # runs meanwhile, once, while the process boots (its log file is open by then).
    target = f"127.0.0.1:{agent.metrics_port}"
    meanwhile: list[bool] = []
    with start_prometheus(
        {"edge-agent": target}, tmp_path, scrape_interval_s=0.5,
        meanwhile=lambda: meanwhile.append((tmp_path / "prometheus.log").exists()),
    ) as prometheus:  # fmt: skip
        assert meanwhile == [True]
        assert prometheus.url == f"http://127.0.0.1:{prometheus.port}"
        rss = _query(prometheus.url, 'process_resident_memory_bytes{job="edge-agent"}')
        assert len(rss) == 1 and float(rss[0]["value"][1]) > 0
        requests = _query(prometheus.url, f'edge_agent_requests_total{{model="{model}"}}')
        assert [float(r["value"][1]) for r in requests] == [4.0]
        assert requests[0]["metric"]["status"] == "200"
        pid = prometheus.pid
    assert not prometheus.running()
    assert _gone(pid)
    assert (tmp_path / "prometheus.yml").exists()


@live
def test_agent_stop_exits_cleanly_and_frees_its_port(tmp_path: Path) -> None:
    agent = start_agent(AgentConfig(), tmp_path)
    assert httpx.get(agent.url + "/health", trust_env=False).status_code == 200
    assert agent.stop() == 0  # SIGTERM is a clean exit, not a kill
    assert agent.stop() == 0  # and stopping twice is harmless
    assert _gone(agent.pid)
    assert not (tmp_path / "agent.ready.json").exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(agent.url + "/health", trust_env=False)


@live
def test_agent_that_cannot_listen_raises_with_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError, match="exited with code 1") as error:
            start_agent(AgentConfig(port=port), tmp_path)
    assert "cannot listen for the API" in str(error.value)
    assert str(tmp_path / "agent.log") in str(error.value)


def test_agent_with_a_missing_interpreter_raises(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="cannot start the stand-in agent"):
        start_agent(AgentConfig(), tmp_path, python=str(tmp_path / "no-such-python"))


@live
def test_agent_that_never_gets_ready_times_out_and_is_killed(tmp_path: Path) -> None:
    silent = tmp_path / "silent-python"
    silent.write_text("#!/bin/sh\necho 'pretending to start'\nexec sleep 30\n")
    silent.chmod(0o755)
    with pytest.raises(StackError, match="not ready after") as error:
        start_agent(AgentConfig(), tmp_path, python=str(silent), timeout_s=2.0)
    assert "pretending to start" in str(error.value)


def test_missing_prometheus_binary_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(StackError) as error:
        start_prometheus({"edge-agent": "127.0.0.1:9"}, tmp_path, binary="no-such-prometheus")
    assert "not found on PATH; install it (Debian/Ubuntu: apt-get install prometheus)" in str(
        error.value
    )
    assert "scripts/system-deps.sh" in str(error.value)


@live
def test_prometheus_on_a_taken_port_raises_with_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError, match="Prometheus exited") as error:
            start_prometheus({"edge-agent": "127.0.0.1:9"}, tmp_path, port=port, timeout_s=10)
    assert "address already in use" in str(error.value)


def test_prometheus_config_lists_each_job_and_refuses_bad_targets() -> None:
    config = yaml.safe_load(
        render_prometheus_config({"edge-agent": "127.0.0.1:9100", "redis": "[::1]:9121"}, 0.25)
    )
    assert config["global"]["scrape_interval"] == "250ms"
    assert config["global"]["scrape_timeout"] == "250ms"
    assert [
        (job["job_name"], job["static_configs"][0]["targets"]) for job in config["scrape_configs"]
    ] == [
        ("edge-agent", ["127.0.0.1:9100"]),
        ("redis", ["[::1]:9121"]),
    ]
    with pytest.raises(StackError, match="must be 'host:port'"):
        render_prometheus_config({"edge-agent": "http://127.0.0.1:9100/metrics"}, 1.0)
    with pytest.raises(StackError, match="at least one scrape target"):
        render_prometheus_config({}, 1.0)
