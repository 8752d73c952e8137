"""Fixtures for end-to-end runs: the CLI in a subprocess and a fast loopback target."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


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
    """A GET /health scenario with latency and error targets and the given load settings."""
    load = {"rate_rps": 200, "ramp": "0s", "duration": "4s", **load}
    rate = load["rate_rps"]
    data = {
        "name": "e2e",
        "load": load,
        "requests": [{"kind": "health", "weight": 1, "path": "/health"}],
        "targets": {
            "request_rate_rps": f"{0.8 * rate:g}..{1.2 * rate:g}",
            "latency_p50_ms": "< 10",
            "latency_p99_ms": "< 200",
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
    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"


def start_bench_target(tmp_path: Path, *extra: str) -> BenchTarget:
    ready = tmp_path / "target.ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadtests.benchtarget", "--ready-file", str(ready), *extra],
        cwd=REPO,
    )
    deadline = time.monotonic() + 10
    while not ready.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("bench target did not start")
        time.sleep(0.02)
    return BenchTarget(proc, json.loads(ready.read_text())["port"])


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
