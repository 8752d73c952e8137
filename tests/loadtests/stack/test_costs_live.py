"""Known costs of the stand-in subprocess, measured from outside: queue, leak, telemetry."""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import time
from pathlib import Path

import httpx
import psutil
import pytest

from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.launchers.launch import AgentProcess, start_agent, start_otlp_receiver
from loadtests.stack.otlp.config import ReceiverConfig
from tests.loadtests.stack.test_otlp_receiver_live import receiver_counts

pytestmark = pytest.mark.live

CHAT = "/v1/chat/completions"
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
MB = 1_000_000


def _post(body: str = BODY, close: bool = False) -> bytes:
    connection = "Connection: close\r\n" if close else ""
    head = f"POST {CHAT} HTTP/1.1\r\nHost: x\r\n{connection}Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body.encode()


async def _timed(port: int, request: bytes, sent_s: float) -> tuple[float, bytes]:
    """Send ``request`` on a fresh connection; seconds from ``sent_s`` to EOF, and the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    answer = await reader.read()  # the request says Connection: close
    writer.close()
    return time.perf_counter() - sent_s, answer


async def _burst(port: int, chats: int) -> tuple[list[float], float]:
    """``chats`` chat requests at once, then a health check: their times to answer (s)."""
    sent_s = time.perf_counter()
    tasks = [asyncio.create_task(_timed(port, _post(close=True), sent_s)) for _ in range(chats)]
    # Once a chat is answered the server has taken the burst into its queue: at the least, the
    # next slot is a whole service time away.
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    health_sent_s = time.perf_counter()
    health_s, health = await _timed(
        port, b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", health_sent_s
    )
    assert health.startswith(b"HTTP/1.1 200 OK")
    answers = await asyncio.gather(*tasks)
    assert all(answer.startswith(b"HTTP/1.1 200 OK") for _, answer in answers)
    return sorted(seconds for seconds, _ in answers), health_s


def test_capacity_queue_spreads_a_burst_over_its_service_times(tmp_path: Path) -> None:
    # A service time of 200 ms, far above scheduler noise: each bound sits half a slot or more
    # away from where the queue puts an answer.
    capacity_rps, chats = 5.0, 5
    slot_s = 1 / capacity_rps
    config = AgentConfig(
        upstream_distribution="constant", upstream_median_ms=0.0, capacity_rps=capacity_rps
    )
    with start_agent(config, tmp_path) as agent:
        done_s, health_s = asyncio.run(_burst(agent.port, chats))
    assert done_s[0] < slot_s / 2  # the first finds the server free
    for k, seconds in enumerate(done_s):
        # The k-th answer cannot come before k slots after the burst was sent (whatever the
        # load on the machine); it comes at most 2.5 slots late.
        assert 0.95 * k * slot_s <= seconds < (k + 2.5) * slot_s, (k, done_s)
    assert done_s[-1] < 1.5 * (chats - 1) * slot_s  # the last waits 4 slots of 1/5 s, not 8
    assert health_s < slot_s / 2  # health bypasses the queue


def _pipeline(agent: AgentProcess, requests: int, batch: int = 100) -> None:
    """Send ``requests`` chat requests, ``batch`` pipelined at a time, on one connection."""
    with socket.create_connection(("127.0.0.1", agent.port), timeout=10.0) as sock:
        for _ in range(requests // batch):
            sock.sendall(_post() * batch)
            seen = b""
            # Every answer ends with the completion's closing braces and its usage block.
            while seen.count(b"HTTP/1.1 200 OK") < batch or not seen.endswith(b"}}"):
                chunk = sock.recv(1 << 20)
                assert chunk, "the agent closed the connection"
                seen += chunk


def _rss_bytes(agent: AgentProcess) -> int:
    return int(psutil.Process(agent.pid).memory_info().rss)


def test_leak_grows_the_rss_by_requests_times_leak(tmp_path: Path) -> None:
    requests, leak_bytes = 2000, 10_000
    config = AgentConfig(leak_bytes_per_request=leak_bytes)
    with start_agent(config, tmp_path) as agent:
        _pipeline(agent, 200)  # warm up: the cache entry, buffers and allocator arenas
        before = _rss_bytes(agent)
        _pipeline(agent, requests)
        grown = _rss_bytes(agent) - before
    expected = requests * leak_bytes
    assert 0.7 * expected <= grown <= 1.3 * expected, f"RSS grew {grown / MB:.1f} MB"


def _hit_overheads_ms(agent: AgentProcess, requests: int) -> tuple[list[float], list[float]]:
    """Client-side times and X-Edge-Overhead-Ms of ``requests`` cache hits, in ms."""
    elapsed_ms, overhead_ms = [], []
    with httpx.Client(base_url=agent.url, trust_env=False, timeout=5.0) as client:
        client.post(CHAT, content=BODY)  # the miss that fills the cache
        for _ in range(requests):
            response = client.post(CHAT, content=BODY)
            assert response.headers["X-Cache-Status"] == "HIT"
            assert response.headers["X-Upstream-Time-Ms"] == "0.000"
            elapsed_ms.append(response.elapsed.total_seconds() * 1000.0)
            overhead_ms.append(float(response.headers["X-Edge-Overhead-Ms"]))
    return elapsed_ms, overhead_ms


def _cpu_s(agent: AgentProcess) -> float:
    times = psutil.Process(agent.pid).cpu_times()
    return float(times.user + times.system)


def test_telemetry_cost_applies_with_telemetry_on_and_export_off_only(tmp_path: Path) -> None:
    # Costs far above scheduler noise: 40 ms a request, a quarter of it CPU; the bounds below
    # sit halfway between the cost and none (or twice it).
    latency_ms, cpu_us, memory_bytes, requests = 30.0, 10_000.0, 50 * MB, 20
    with start_otlp_receiver(ReceiverConfig(), tmp_path / "otlp") as receiver:
        costs = {
            "upstream_distribution": "constant",
            "upstream_median_ms": 0.0,
            "telemetry_export": False,
            "otlp_endpoint": receiver.url,
            "telemetry_cost_latency_ms": latency_ms,
            "telemetry_cost_cpu_us": cpu_us,
            "telemetry_cost_memory_bytes": memory_bytes,
        }
        results = {}
        for telemetry in (False, True):
            config = AgentConfig(telemetry=telemetry, **costs)  # type: ignore[arg-type]
            with start_agent(config, tmp_path / f"agent-{telemetry}") as agent:
                rss = _rss_bytes(agent)
                cpu_s = _cpu_s(agent)
                elapsed_ms, overhead_ms = _hit_overheads_ms(agent, requests)
                results[telemetry] = (rss, _cpu_s(agent) - cpu_s, elapsed_ms, overhead_ms)
        counts = receiver_counts(receiver.metrics_url)
    assert set(counts.values()) == {0.0}  # export off: the SDK never started

    (rss_off, cpu_off_s, elapsed_off, overhead_off) = results[False]
    (rss_on, cpu_on_s, elapsed_on, overhead_on) = results[True]
    cost_ms = latency_ms + cpu_us / 1000.0  # both are the agent's own time
    assert statistics.median(overhead_off) < 1.0  # configured but off: nothing charged
    # The agent's own time can only exceed the cost it charges (a lower bound), not double it.
    assert cost_ms <= statistics.median(overhead_on) <= 1.5 * cost_ms
    added_ms = statistics.median(elapsed_on) - statistics.median(elapsed_off)
    assert 0.5 * cost_ms <= added_ms <= 1.5 * cost_ms
    expected_cpu_s = (requests + 1) * cpu_us / 1e6
    # The spin runs on the thread's CPU clock, so other processes holding the CPUs delay it but
    # cannot shorten the CPU time it takes; nor does it take more than it spins.
    assert 0.7 * expected_cpu_s <= cpu_on_s - cpu_off_s <= 1.5 * expected_cpu_s
    assert 0.8 * memory_bytes <= rss_on - rss_off <= 1.2 * memory_bytes
