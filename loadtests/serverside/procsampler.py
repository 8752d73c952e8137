"""A second server-side source: a local process's RSS and CPU, sampled once a second (psutil).

Rows go beside the Prometheus series with source "process" and labels {"pid", "name"}: RSS as
``memory_bytes`` and CPU (user + system time over wall time, % of one core) as ``cpu_percent``,
the same definitions as the process_* metrics of Prometheus client libraries.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psutil

from loadtests.errors import ScenarioError
from loadtests.failures import log_unexpected
from loadtests.serverside.collector import Collected, Row, frame, labels_json

SOURCE = "process"
INTERVAL_S = 1.0


def find_processes(pid: int | None, name: str | None) -> list[psutil.Process]:
    """The process ``pid``, or every other process called ``name``; ScenarioError when none."""
    if pid is not None:
        try:
            return [psutil.Process(pid)]
        except psutil.Error:
            raise ScenarioError(
                f"field 'metrics.process.pid': no process {pid} to sample; no load was sent"
            ) from None
    if name is None:
        return []
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        argv0 = os.path.basename((proc.info.get("cmdline") or [""])[0])
        if proc.pid != os.getpid() and name in (proc.info.get("name"), argv0):
            found.append(proc)
    if not found:
        raise ScenarioError(
            f"field 'metrics.process.name': no running process is called {name!r}; no load was sent"
        )
    return found


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return ""


def _lost(exc: psutil.Error) -> str:
    """Why a process can no longer be sampled, in words (psutil's own text goes to the log)."""
    if isinstance(exc, psutil.AccessDenied):
        return "could not be read (access denied)"
    if isinstance(exc, psutil.NoSuchProcess):  # ZombieProcess too
        return "exited"
    return log_unexpected(f"could not be read ({type(exc).__name__}; see harness.log)", exc)


class ProcessSampler:
    """Samples RSS and CPU of ``processes`` every ``interval_s`` on a thread of its own."""

    def __init__(
        self,
        processes: list[psutil.Process],
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._procs = processes
        self._interval_s = interval_s
        self._clock = clock
        self._labels = {
            p.pid: labels_json({"pid": str(p.pid), "name": _name(p)}) for p in processes
        }
        self._last: dict[int, tuple[float, float]] = {}  # pid -> (wall s, cpu s) of the last sample
        self._rows: list[Row] = []
        self._gone: dict[int, str] = {}
        self._latest: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_s: float | None = None

    def sample_once(self) -> None:
        """Read each process once; the first read of a process only sets its CPU baseline."""
        now = self._clock()
        memory, cpu = 0.0, 0.0
        for proc in self._procs:
            if proc.pid in self._gone:
                continue
            try:
                with proc.oneshot():
                    rss = float(proc.memory_info().rss)
                    times = proc.cpu_times()
            except psutil.Error as exc:
                when = now - (self._started_s or now)
                self._gone[proc.pid] = f"{_lost(exc)} at +{when:.1f} s"
                continue
            cpu_s = times.user + times.system
            labels = self._labels[proc.pid]
            self._rows.append((now, "memory_bytes", SOURCE, labels, rss))
            memory += rss
            previous = self._last.get(proc.pid)
            self._last[proc.pid] = (now, cpu_s)
            if previous is not None and now > previous[0]:
                percent = 100.0 * (cpu_s - previous[1]) / (now - previous[0])
                self._rows.append((now, "cpu_percent", SOURCE, labels, percent))
                cpu += percent
        self._latest = {"memory_bytes": memory, "cpu_percent": cpu}

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample_once()
            self._stop.wait(self._interval_s)

    def start(self) -> None:
        """Start sampling in the background (the first sample right away)."""
        self._started_s = self._clock()
        self._thread = threading.Thread(target=self._loop, name="edgeperf-procs", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def latest(self) -> dict[str, float]:
        """The last sample's memory_bytes and cpu_percent, summed over the processes."""
        return dict(self._latest)

    def describe(self) -> str:
        """What is sampled, for the query records and the report."""
        names = ", ".join(f"pid {p.pid} ({_name(p) or '?'})" for p in self._procs)
        return f"{names}, every {self._interval_s:g} s"

    def collected(self) -> Collected:
        """The samples and one record for memory_bytes and one for cpu_percent."""
        first = (
            datetime.fromtimestamp(self._started_s, UTC).isoformat() if self._started_s else None
        )
        gone = "; ".join(f"process {pid} {why}" for pid, why in self._gone.items())
        what = {"memory_bytes": "RSS", "cpu_percent": "CPU (user + system), % of one core,"}
        records: list[dict[str, Any]] = []
        for metric in ("memory_bytes", "cpu_percent"):
            points = sum(1 for row in self._rows if row[1] == metric)
            records.append(
                {
                    "metric": metric,
                    "source": SOURCE,
                    "query": f"{what[metric]} of {self.describe()}",
                    "kind": "gauge",
                    "unit": "bytes" if metric == "memory_bytes" else "%",
                    "start": first,
                    "end": datetime.now(UTC).isoformat(),
                    "step_s": self._interval_s,
                    "status": "error" if gone else ("ok" if points else "empty"),
                    "error": gone or (None if points else "no sample was taken"),
                    "points": points,
                }
            )
        return Collected(series=frame(list(self._rows)), queries=records)


__all__ = ["INTERVAL_S", "SOURCE", "ProcessSampler", "find_processes"]
