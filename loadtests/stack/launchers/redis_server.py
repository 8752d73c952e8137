"""Start and stop a throwaway redis-server on loopback for the stand-in's L2 cache."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.errors import StackError
from loadtests.stack.launchers.processes import (
    POLL_S,
    Popen,
    Stoppable,
    died,
    free_port,
    log_tail,
    spawn,
    stop_process,
    timed_out,
)

__all__ = ["RedisProcess", "redis_ping", "start_redis"]

REDIS_ATTEMPTS = 3


@dataclass(frozen=True)
class RedisProcess(Stoppable):
    """A running redis-server that has answered PING; ``url`` is ``redis://127.0.0.1:PORT``."""

    pid: int
    port: int
    url: str
    log_path: Path
    _process: subprocess.Popen[bytes] = field(repr=False, compare=False)


def redis_ping(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """Whether a Redis server answers PING with +PONG at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(
    workdir: Path,
    *,
    port: int = 0,
    binary: str = "redis-server",
    timeout_s: float = 10.0,
    popen: Popen = subprocess.Popen,
) -> RedisProcess:
    """Start redis-server on 127.0.0.1 without persistence; return once it answers PING.

    Port 0 picks a free port (redis-server itself reads 0 as "no TCP at all").
    """
    executable = shutil.which(binary)
    if executable is None:
        raise StackError(
            f"{binary} not found on PATH; install it (Debian/Ubuntu: apt-get install "
            "redis-server) or run scripts/system-deps.sh"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "redis.log"
    attempts = REDIS_ATTEMPTS if port == 0 else 1
    for attempt in range(1, attempts + 1):
        listen_port = port or free_port()
        argv = [
            executable,
            "--bind",
            "127.0.0.1",
            "--port",
            str(listen_port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]
        process = spawn(popen, argv, log_path, what="redis-server")
        try:
            _wait_for_pong(process, listen_port, log_path, timeout_s)
        except StackError:
            stop_process(process)
            # Another process can take a port between free_port() and redis binding it.
            if attempt < attempts and "in use" in log_tail(log_path).lower():
                continue
            raise
        except BaseException:
            stop_process(process)
            raise
        return RedisProcess(
            pid=process.pid,
            port=listen_port,
            url=f"redis://127.0.0.1:{listen_port}",
            log_path=log_path,
            _process=process,
        )
    raise AssertionError("unreachable: the last attempt returns or raises")


def _wait_for_pong(
    process: subprocess.Popen[bytes], port: int, log_path: Path, timeout_s: float
) -> None:
    deadline_s = time.monotonic() + timeout_s
    while not redis_ping("127.0.0.1", port, timeout_s=0.5):
        if process.poll() is not None:
            raise died("redis-server", process, log_path)
        if time.monotonic() > deadline_s:
            raise timed_out("redis-server", timeout_s, f"no PONG on port {port}", log_path)
        time.sleep(POLL_S)
