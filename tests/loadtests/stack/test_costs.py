"""The known costs: capacity slots, the leak, the CPU spin and the held telemetry memory."""

from __future__ import annotations

import time

import psutil
import pytest

from loadtests.stack.agent.costs import CapacityQueue, KnownCosts, LeakArena, TelemetryCost, spin


def test_capacity_queue_books_slots_one_service_time_apart() -> None:
    now_s = [10.0]
    queue = CapacityQueue(50.0, clock_s=lambda: now_s[0])
    assert [round(queue.reserve_s(), 9) for _ in range(4)] == [0.0, 0.02, 0.04, 0.06]
    now_s[0] += 1.0  # long idle: the server is free again, no credit is saved up
    assert [round(queue.reserve_s(), 9) for _ in range(2)] == [0.0, 0.02]


def test_capacity_queue_refuses_a_rate_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="capacity_rps"):
        CapacityQueue(0.0)


def test_each_chat_leaks_its_bytes_and_the_telemetry_memory_is_held_once() -> None:
    costs = KnownCosts(leak_bytes_per_request=1000, telemetry=TelemetryCost(memory_bytes=4096))
    for _ in range(5):
        assert costs.on_chat() == 0.0
    assert (costs.leaked_bytes, costs.held_bytes) == (5000, 4096)


def test_spin_burns_cpu_not_just_wall_time() -> None:
    cpu_s = time.process_time()
    spin(0.02)
    assert time.process_time() - cpu_s >= 0.015


def test_no_costs_by_default() -> None:
    costs = KnownCosts()
    assert (costs.on_chat(), costs.latency_s, costs.leaked_bytes, costs.held_bytes) == (0, 0, 0, 0)


def _rss_bytes() -> int:
    return int(psutil.Process().memory_info().rss)


def test_leak_arena_grows_the_rss_by_the_bytes_leaked_without_object_overhead() -> None:
    # 60,000 leaks of 200 bytes: 12 MB. A bytearray per leak costs about 1.4× that (its header,
    # the allocator's rounding and a list slot), far outside the bounds below.
    arena = LeakArena(chunk_bytes=16 * 2**20)
    before = _rss_bytes()
    for _ in range(60_000):
        arena.leak(200)
    grown = _rss_bytes() - before
    assert arena.leaked_bytes == 12_000_000
    assert 0.95 * 12_000_000 <= grown <= 1.08 * 12_000_000, f"RSS grew {grown} bytes"


def test_leak_arena_refuses_a_chunk_that_is_not_whole_pages() -> None:
    with pytest.raises(ValueError, match="chunk_bytes"):
        LeakArena(chunk_bytes=1000)
