"""Start and stop the embedded stack's processes: agent, OTLP receiver, Prometheus, Redis."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

import loadtests
from loadtests.errors import StackError
from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.launchers.processes import (
    Popen,
    Stoppable,
    died,
    free_port,
    log_tail,
    spawn,
    stop_process,
    timed_out,
    wait_for_health,
    wait_for_ready_file,
)
from loadtests.stack.launchers.prometheus_config import render_prometheus_config
from loadtests.stack.launchers.redis_server import RedisProcess, start_redis
from loadtests.stack.otlp.config import ReceiverConfig

__all__ = [
    "AgentProcess",
    "PrometheusProcess",
    "ReceiverProcess",
    "RedisProcess",
    "render_prometheus_config",
    "start_agent",
    "start_otlp_receiver",
    "start_prometheus",
    "start_redis",
]

PROMETHEUS_ATTEMPTS = 3
_REPO_ROOT = Path(loadtests.__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServiceProcess(Stoppable):
    """A running stack service: ``url`` serves it, ``metrics_url`` shows its own metrics.

    ``direct_url`` (the agent only): its simulated upstream, answering without the gateway.
    """

    pid: int
    port: int
    metrics_port: int
    url: str
    metrics_url: str
    log_path: Path
    _process: subprocess.Popen[bytes] = field(repr=False, compare=False)
    direct_url: str | None = None


AgentProcess = ServiceProcess  # the stand-in agent
ReceiverProcess = ServiceProcess  # the OTLP receiver: url takes exports


@dataclass(frozen=True)
class PrometheusProcess(Stoppable):
    """A running Prometheus that has scraped each of its jobs at least once."""

    pid: int
    port: int
    url: str
    config_path: Path
    log_path: Path
    _process: subprocess.Popen[bytes] = field(repr=False, compare=False)


def _start_python_server(
    module: str,
    args: list[str],
    workdir: Path,
    name: str,
    what: str,
    *,
    python: str,
    timeout_s: float,
    popen: Popen,
) -> tuple[subprocess.Popen[bytes], dict[str, object], Path]:
    """Run ``python -m module args --ready-file``; once healthy, return it, its info and log."""
    workdir.mkdir(parents=True, exist_ok=True)
    ready_path = workdir / f"{name}.ready.json"
    log_path = workdir / f"{name}.log"
    ready_path.unlink(missing_ok=True)
    argv = [python, "-m", module, *args, "--ready-file", str(ready_path)]
    # The package must import in the child even when the harness runs from a source checkout.
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")]))
    process = spawn(popen, argv, log_path, what=what, env=env)
    try:
        deadline_s = time.monotonic() + timeout_s
        info = wait_for_ready_file(process, ready_path, log_path, deadline_s, what)
        wait_for_health(process, f"{info['url']}/health", log_path, timeout_s, what)
    except BaseException:
        stop_process(process)
        raise
    return process, info, log_path


def _service(
    process: subprocess.Popen[bytes], info: dict[str, object], log_path: Path
) -> ServiceProcess:
    """The handle of a started server, from the ports and URLs its ready-file announced."""
    return ServiceProcess(
        pid=process.pid,
        port=int(str(info["port"])),
        metrics_port=int(str(info["metrics_port"])),
        url=str(info["url"]),
        metrics_url=str(info["metrics_url"]),
        log_path=log_path,
        _process=process,
        direct_url=str(info["direct_url"]) if "direct_url" in info else None,
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
    process, info, log_path = _start_python_server(
        "loadtests.stack.agent.main",
        config.to_args(),
        workdir,
        "agent",
        "the stand-in agent",
        python=python,
        timeout_s=timeout_s,
        popen=popen,
    )
    return _service(process, info, log_path)


def start_otlp_receiver(
    config: ReceiverConfig,
    workdir: Path,
    *,
    python: str = sys.executable,
    timeout_s: float = 15.0,
    popen: Popen = subprocess.Popen,
) -> ReceiverProcess:
    """Start ``python -m loadtests.stack.otlp`` and return once its /health answers."""
    process, info, log_path = _start_python_server(
        "loadtests.stack.otlp.main",
        config.to_args(),
        workdir,
        "otlp-receiver",
        "the OTLP receiver",
        python=python,
        timeout_s=timeout_s,
        popen=popen,
    )
    return _service(process, info, log_path)


def start_prometheus(
    scrape_targets: dict[str, str],
    workdir: Path,
    *,
    scrape_interval_s: float = 1.0,
    port: int = 0,
    binary: str = "prometheus",
    timeout_s: float = 30.0,
    popen: Popen = subprocess.Popen,
    meanwhile: Callable[[], object] | None = None,
) -> PrometheusProcess:
    """Start Prometheus on 127.0.0.1 and return once every job has been scraped (up == 1).

    Expect about 5 s: Prometheus 2.x hands discovered targets to its scrapers every 5 s, so the
    first scrape cannot come sooner whatever the scrape interval. ``meanwhile`` (called once,
    after the process started) does other work in that time.
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
            if meanwhile is not None and attempt == 1:
                meanwhile()
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
                raise died("Prometheus", process, log_path)
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
                raise timed_out("Prometheus", timeout_s, last, log_path)
            time.sleep(0.1)


def _jobs_not_up(client: httpx.Client, jobs: list[str]) -> list[str]:
    response = client.get("/api/v1/query", params={"query": "up"})
    response.raise_for_status()
    up = {
        sample["metric"].get("job"): sample["value"][1]
        for sample in response.json()["data"]["result"]
    }
    return [f"{job} (up={up[job]})" if job in up else job for job in jobs if up.get(job) != "1"]
