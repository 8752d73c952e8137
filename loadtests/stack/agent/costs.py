"""Costs the stand-in carries on request, so a test knows the truth: capacity, leak, telemetry."""

from __future__ import annotations

import mmap
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CapacityQueue", "KnownCosts", "LeakArena", "TelemetryCost", "spin"]

LEAK_CHUNK_BYTES = 64 * 2**20  # address space reserved at a time; only touched pages are resident


@dataclass(frozen=True)
class TelemetryCost:
    """A fixed price of telemetry, charged only while telemetry is on.

    ``latency_ms`` is added to every chat answer, ``cpu_us`` of CPU is spun per chat request,
    ``memory_bytes`` are allocated (and touched) once at start and held.
    """

    latency_ms: float = 0.0
    cpu_us: float = 0.0
    memory_bytes: int = 0


def spin(seconds: float, clock_s: Callable[[], float] = time.thread_time) -> None:
    """Burn ``seconds`` of this thread's CPU time (not wall time: a busy machine cannot cut it)."""
    end_s = clock_s() + seconds
    while clock_s() < end_s:
        pass


class CapacityQueue:
    """One server with a fixed service time of 1/capacity_rps, slots given in arrival order.

    Below capacity a request finds the server free and waits nothing; above it the wait grows by
    (offered − capacity)/capacity seconds every second, without bound.
    """

    __slots__ = ("_clock_s", "_next_free_s", "_service_s")

    def __init__(self, capacity_rps: float, clock_s: Callable[[], float] = time.perf_counter):
        if not capacity_rps > 0:
            raise ValueError(f"capacity_rps must be > 0, got {capacity_rps}")
        self._service_s = 1.0 / capacity_rps
        self._clock_s = clock_s
        self._next_free_s = float("-inf")

    def reserve_s(self) -> float:
        """Take the next slot; return the seconds until it starts (0 when the server is free)."""
        now_s = self._clock_s()
        start_s = max(now_s, self._next_free_s)
        self._next_free_s = start_s + self._service_s
        return start_s - now_s


class LeakArena:
    """Memory taken and never given back, so the RSS grows by exactly the bytes leaked.

    Leaked bytes advance a cursor through anonymous mappings; each page the cursor enters is
    touched (one byte written), which is when the kernel makes it resident. No Python object or
    allocator header is made per leak, so 200 bytes a request grow the RSS by 200 bytes a
    request (to within one page), not by the 1.4× that a small ``bytearray`` per request costs.
    """

    __slots__ = ("_chunk_bytes", "_chunks", "_leaked_bytes", "_touched_bytes")

    def __init__(self, chunk_bytes: int = LEAK_CHUNK_BYTES) -> None:
        if chunk_bytes < mmap.PAGESIZE or chunk_bytes % mmap.PAGESIZE:
            raise ValueError(
                f"chunk_bytes must be a multiple of {mmap.PAGESIZE}, got {chunk_bytes}"
            )
        self._chunk_bytes = chunk_bytes
        self._chunks: list[mmap.mmap] = []
        self._leaked_bytes = 0
        self._touched_bytes = 0

    @property
    def leaked_bytes(self) -> int:
        """Bytes leaked so far."""
        return self._leaked_bytes

    def leak(self, nbytes: int) -> None:
        """Take ``nbytes`` more for good, touching every page the cursor enters."""
        self._leaked_bytes += nbytes
        while self._touched_bytes < self._leaked_bytes:
            offset = self._touched_bytes % self._chunk_bytes
            if offset == 0:
                chunk = mmap.mmap(-1, self._chunk_bytes)
                if hasattr(mmap, "MADV_NOHUGEPAGE"):  # a huge page would make 2 MiB resident
                    chunk.madvise(mmap.MADV_NOHUGEPAGE)
                self._chunks.append(chunk)
            self._chunks[-1][offset] = 1
            self._touched_bytes += mmap.PAGESIZE


class KnownCosts:
    """What each chat request costs beyond its answer: a leak, a CPU spin and a capacity slot.

    ``latency_s`` is the telemetry latency the app adds to each chat answer; ``gateway_s`` the
    gateway's known cost (``gateway_latency_ms``), which the direct listener never pays.
    """

    def __init__(
        self,
        *,
        capacity_rps: float | None = None,
        leak_bytes_per_request: int = 0,
        telemetry: TelemetryCost = TelemetryCost(),
        gateway_latency_ms: float = 0.0,
        clock_s: Callable[[], float] = time.perf_counter,
    ) -> None:
        if leak_bytes_per_request < 0:
            raise ValueError(f"leak_bytes_per_request must be >= 0, got {leak_bytes_per_request}")
        if gateway_latency_ms < 0:
            raise ValueError(f"gateway_latency_ms must be >= 0, got {gateway_latency_ms}")
        self.latency_s = telemetry.latency_ms / 1000.0
        self.gateway_s = gateway_latency_ms / 1000.0
        self._cpu_s = telemetry.cpu_us / 1e6
        self._queue = CapacityQueue(capacity_rps, clock_s) if capacity_rps is not None else None
        self._leak_bytes = leak_bytes_per_request
        self._leaked = LeakArena()
        # bytearray(n) zero-fills, so the pages are touched and count in the RSS at once.
        self._ballast = bytearray(telemetry.memory_bytes)
        self._clock_s = clock_s

    @property
    def adds_latency(self) -> bool:
        """Whether a chat answer waits for a known cost (telemetry or gateway)."""
        return bool(self.latency_s or self.gateway_s)

    @property
    def leaked_bytes(self) -> int:
        """Bytes leaked so far (never freed while the process runs)."""
        return self._leaked.leaked_bytes

    @property
    def held_bytes(self) -> int:
        """Bytes held for the telemetry memory cost."""
        return len(self._ballast)

    def on_chat(self) -> float:
        """Charge one chat request: leak, spin; return the seconds it waits for its slot."""
        if self._leak_bytes:
            self._leaked.leak(self._leak_bytes)
        if self._cpu_s:
            spin(self._cpu_s)  # on the thread's CPU clock: a busy machine cannot shorten it
        return self._queue.reserve_s() if self._queue is not None else 0.0
