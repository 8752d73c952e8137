"""Start and stop the embedded stack's processes: the stand-in agent and Prometheus scraping it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

import loadtests
from loadtests.errors import StackError
from loadtests.stack.config import AgentConfig
from loadtests.stack.processes import Popen, free_port, log_tail, spawn, stop_process
from loadtests.stack.prometheus_config import render_prometheus_config

__all__ = [
    "AgentProcess",
    "PrometheusProcess",
    "render_prometheus_config",
    "start_agent",
    "start_prometheus",
]

POLL_S = 0.02
PROMETHEUS_ATTEMPTS = 3
_REPO_ROOT = Path(loadtests.__file__).resolve().parent.parent


class _Stoppable:
    """Context-manager support and ``stop()`` for a dataclass holding a ``_process``."""

    _process: subprocess.Popen[bytes]

    def stop(self) -> int:
        """SIGTERM, wait up to 5 s, then kill; return the exit code. Safe to call twice."""
        return stop_process(self._process)

    def running(self) -> bool:
        """Whether the process is still alive."""
        return self._process.poll() is None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class AgentProcess(_Stoppable):
    """A running stand-in agent and where it listens."""

    pid: int
    port: int
    metrics_port: int
    url: str
    metrics_url: str
    log_path: Path
    _process: subprocess.Popen[bytes] = field(repr=False, compare=False)


@dataclass(frozen=True)
class PrometheusProcess(_Stoppable):
    """A running Prometheus that has scraped each of its jobs at least once."""

    pid: int
    port: int
    url: str
    config_path: Path
    log_path: Path
    _process: subprocess.Popen[bytes] = field(repr=False, compare=False)


def _died(what: str, process: subprocess.Popen[bytes], log_path: Path) -> StackError:
    return StackError(
        f"{what} exited with code {process.returncode} before it was ready; "
        f"last lines of {log_path}:\n{log_tail(log_path)}"
    )


def _timed_out(what: str, timeout_s: float, waiting_for: str, log_path: Path) -> StackError:
    return StackError(
        f"{what} was not ready after {timeout_s:g} s ({waiting_for}); "
        f"last lines of {log_path}:\n{log_tail(log_path)}"
    )


def start_agent(
    config: AgentConfig,
    workdir: Path,
    *,
    python: str = sys.executable,
    timeout_s: float = 15.0,
    popen: Popen = subprocess.Popen,
) -> AgentProcess:
    """Start ``python -m loadtests.stack.agent`` and return once its /health answers 200."""
    workdir.mkdir(parents=True, exist_ok=True)
    ready_path = workdir / "agent.ready.json"
    log_path = workdir / "agent.log"
    ready_path.unlink(missing_ok=True)
    argv = [
        python,
        "-m",
        "loadtests.stack.agent",
        *config.to_args(),
        "--ready-file",
        str(ready_path),
    ]
    # The package must import in the child even when the harness runs from a source checkout.
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")]))
    process = spawn(popen, argv, log_path, what="the stand-in agent", env=env)
    try:
        info = _wait_for_ready_file(process, ready_path, log_path, time.monotonic() + timeout_s)
        _wait_for_health(process, info["url"] + "/health", log_path, timeout_s)
    except BaseException:
        stop_process(process)
        raise
    return AgentProcess(
        pid=process.pid,
        port=int(info["port"]),
        metrics_port=int(info["metrics_port"]),
        url=str(info["url"]),
        metrics_url=str(info["metrics_url"]),
        log_path=log_path,
        _process=process,
    )


def _wait_for_ready_file(
    process: subprocess.Popen[bytes], ready_path: Path, log_path: Path, deadline_s: float
) -> dict[str, Any]:
    started_s = time.monotonic()
    while True:
        if process.poll() is not None:
            raise _died("the stand-in agent", process, log_path)
        if ready_path.exists():
            info: dict[str, Any] = json.loads(ready_path.read_text())
            return info
        if time.monotonic() > deadline_s:
            waited_s = time.monotonic() - started_s
            raise _timed_out("the stand-in agent", waited_s, f"no {ready_path}", log_path)
        time.sleep(POLL_S)


def _wait_for_health(
    process: subprocess.Popen[bytes], health_url: str, log_path: Path, timeout_s: float
) -> None:
    deadline_s = time.monotonic() + timeout_s
    last = "no answer yet"
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            try:
                status = client.get(health_url).status_code
                if status == 200:
                    return
                last = f"{health_url} answered {status}"
            except httpx.HTTPError as exc:
                last = f"{health_url}: {exc!r}"
            if process.poll() is not None:
                raise _died("the stand-in agent", process, log_path)
            if time.monotonic() > deadline_s:
                raise _timed_out("the stand-in agent", timeout_s, last, log_path)
            time.sleep(POLL_S)


def start_prometheus(
    scrape_targets: dict[str, str],
    workdir: Path,
    *,
    scrape_interval_s: float = 1.0,
    port: int = 0,
    binary: str = "prometheus",
    timeout_s: float = 30.0,
    popen: Popen = subprocess.Popen,
) -> PrometheusProcess:
    """Start Prometheus on 127.0.0.1 and return once every job has been scraped (up == 1).

    Expect about 5 s: Prometheus 2.x hands discovered targets to its scrapers every 5 s, so the
    first scrape cannot come sooner whatever the scrape interval.
    """
    executable = shutil.which(binary)
    if executable is None:
        raise StackError(
            f"{binary} not found on PATH; install it (Debian/Ubuntu: apt-get install prometheus) "
            "or run scripts/system-deps.sh"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "prometheus.yml"
    config_path.write_text(render_prometheus_config(scrape_targets, scrape_interval_s))
    log_path = workdir / "prometheus.log"
    attempts = PROMETHEUS_ATTEMPTS if port == 0 else 1
    for attempt in range(1, attempts + 1):
        listen_port = port or free_port()
        argv = [
            executable,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{listen_port}",
            "--log.level=warn",
        ]
        process = spawn(popen, argv, log_path, what="Prometheus")
        url = f"http://127.0.0.1:{listen_port}"
        try:
            _wait_for_prometheus(process, url, list(scrape_targets), log_path, timeout_s)
        except StackError:
            stop_process(process)
            # Another process can take a port between free_port() and Prometheus binding it.
            if attempt < attempts and "address already in use" in log_tail(log_path):
                continue
            raise
        except BaseException:
            stop_process(process)
            raise
        return PrometheusProcess(
            pid=process.pid,
            port=listen_port,
            url=url,
            config_path=config_path,
            log_path=log_path,
            _process=process,
        )
    raise AssertionError("unreachable: the last attempt returns or raises")


def _wait_for_prometheus(
    process: subprocess.Popen[bytes], url: str, jobs: list[str], log_path: Path, timeout_s: float
) -> None:
    deadline_s = time.monotonic() + timeout_s
    ready = False
    last = "no answer yet"
    with httpx.Client(base_url=url, timeout=2.0, trust_env=False) as client:
        while True:
            if process.poll() is not None:
                raise _died("Prometheus", process, log_path)
            try:
                if not ready:
                    status = client.get("/-/ready").status_code
                    ready = status == 200
                    last = f"{url}/-/ready answered {status}"
                if ready:
                    pending = _jobs_not_up(client, jobs)
                    if not pending:
                        return
                    last = "jobs not scraped successfully yet: " + ", ".join(pending)
            except httpx.HTTPError as exc:
                last = f"{url}: {exc!r}"
            if time.monotonic() > deadline_s:
                raise _timed_out("Prometheus", timeout_s, last, log_path)
            time.sleep(0.1)


def _jobs_not_up(client: httpx.Client, jobs: list[str]) -> list[str]:
    response = client.get("/api/v1/query", params={"query": "up"})
    response.raise_for_status()
    up = {
        sample["metric"].get("job"): sample["value"][1]
        for sample in response.json()["data"]["result"]
    }
    return [f"{job} (up={up[job]})" if job in up else job for job in jobs if up.get(job) != "1"]
