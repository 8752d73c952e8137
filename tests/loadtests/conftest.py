"""Fixtures for end-to-end runs: the CLI in a subprocess and a fast loopback target."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# A deadline that only a real hang reaches: events on a busy 2-core machine come late, never
# this late.
HANG_S = 120.0


def wait_until(condition: Callable[[], T], what: str, timeout_s: float = HANG_S) -> T:
    """Poll ``condition`` until it returns something truthy; fail only on a real hang."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}")
        time.sleep(0.02)


class LineWatcher:
    """Reads a process's text stream on a thread, so a test can wait for a line to appear."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def wait_for(
        self, condition: Callable[[str], bool], what: str, timeout_s: float = HANG_S
    ) -> str:
        """The first line for which ``condition`` holds, waiting for it if need be."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if condition(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (not self._thread.is_alive() and seen == len(self.lines)):
                    raise AssertionError(f"no line with {what}; got: {''.join(self.lines)[-2000:]}")
                self._changed.wait(min(left, 0.5))

    def text(self) -> str:
        self._thread.join(timeout=HANG_S)
        return "".join(self.lines)


def run_cli(*args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    """``edgeperf ARGS`` in a fresh interpreter, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "loadtests.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def write_scenario(path: Path, **load) -> Path:
    """A GET /health scenario with latency and error targets and the given load settings.

    The latency targets sit far above what a fast loopback target shows even on a busy machine
    (about 1 ms), and far below what the tests inject (stalls and slow bodies of 300 ms and
    more), so a verdict flips only on the injected effect, never on the machine's noise.
    """
    load = {"rate_rps": 200, "ramp": "0s", "duration": "4s", **load}
    rate = load["rate_rps"]
    data = {
        "name": "e2e",
        "load": load,
        "requests": [{"kind": "health", "weight": 1, "path": "/health"}],
        "targets": {
            "request_rate_rps": f"{0.8 * rate:g}..{1.2 * rate:g}",
            "latency_p50_ms": "< 100",
            "latency_p99_ms": "< 1000",
            "error_rate": "< 1",
        },
    }
    path.write_text(yaml.safe_dump(data))
    return path


def only_run_dir(out: Path) -> Path:
    """The one run folder under ``out`` (the reports index and its charts may sit beside it)."""
    runs = [p for p in out.iterdir() if (p / "metadata.json").is_file()]
    assert len(runs) == 1, runs
    return runs[0]


def summary_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


class BenchTarget:
    def __init__(
        self, proc: subprocess.Popen, port: int, served_file: Path, host: str = "127.0.0.1"
    ) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://{host}:{port}"
        self._served_file = served_file

    def served(self) -> int:
        """How many requests the target has read so far (updated every 50 ms)."""
        try:
            return int(self._served_file.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def wait_served(self, count: int, timeout_s: float = HANG_S) -> None:
        wait_until(lambda: self.served() >= count, f"{count} requests at {self.url}", timeout_s)


_targets = iter(range(1_000_000))


def start_bench_target(tmp_path: Path, *extra: str, host: str = "127.0.0.1") -> BenchTarget:
    """A fresh bench target process; returns once it listens (its ready-file is written)."""
    name = f"target-{next(_targets)}"
    ready = tmp_path / f"{name}.ready.json"
    served = tmp_path / f"{name}.served"
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadtests.experiments.benchtarget", "--ready-file", str(ready),
         "--served-file", str(served), "--host", host, *extra],
        cwd=REPO,
    )  # fmt: skip
    try:
        wait_until(lambda: ready.exists() or proc.poll() is not None, "the bench target to start")
    except AssertionError:
        proc.kill()
        raise
    if proc.poll() is not None:
        raise RuntimeError(f"bench target exited with {proc.returncode} before it listened")
    return BenchTarget(proc, json.loads(ready.read_text())["port"], served, host)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def bench_target(tmp_path: Path) -> Iterator[BenchTarget]:
    target = start_bench_target(tmp_path)
    yield target
    stop(target.proc)
