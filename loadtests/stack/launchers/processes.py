"""Helpers shared by the stack launchers: spawning into a log, stopping, free ports, log tails."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from loadtests.errors import StackError

__all__ = [
    "POLL_S",
    "Popen",
    "Stoppable",
    "died",
    "free_port",
    "log_tail",
    "spawn",
    "stop_process",
    "timed_out",
    "wait_for_health",
    "wait_for_ready_file",
]

POLL_S = 0.02

STOP_GRACE_S = 5.0

# The process launcher the stack functions accept; subprocess.Popen is the real one.
Popen = Callable[..., "subprocess.Popen[bytes]"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to 0, read, close); callers retry on races."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file, or a note that it is empty or missing."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc.strerror})"
    tail = text.rstrip().splitlines()[-lines:]
    return "\n".join(tail) if tail else f"({path} is empty)"


def spawn(
    popen: Popen,
    argv: Sequence[str],
    log_path: Path,
    *,
    what: str,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with stdout and stderr into ``log_path``, in a session of its own.

    Its own session keeps a Ctrl-C at the harness's terminal from killing the stack before the
    harness has collected its results; the harness stops it explicitly.
    """
    kwargs: dict[str, Any] = {
        "stdin": subprocess.DEVNULL,
        "stderr": subprocess.STDOUT,
        "start_new_session": True,
    }
    if env is not None:
        kwargs["env"] = dict(env)
    try:
        with log_path.open("wb") as log:
            return popen(list(argv), stdout=log, **kwargs)
    except OSError as exc:
        raise StackError(f"cannot start {what} ({argv[0]}): {exc}") from exc


def stop_process(process: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> int:
    """SIGTERM, wait up to ``grace_s``, then SIGKILL; return the exit code. Idempotent."""
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM)
            return process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


class Stoppable:
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


def died(what: str, process: subprocess.Popen[bytes], log_path: Path) -> StackError:
    """The error for a process that exited before it was ready, with its log's tail."""
    return StackError(
        f"{what} exited with code {process.returncode} before it was ready; "
        f"last lines of {log_path}:\n{log_tail(log_path)}"
    )


def timed_out(what: str, timeout_s: float, waiting_for: str, log_path: Path) -> StackError:
    """The error for a process that was not ready in time, with its log's tail."""
    return StackError(
        f"{what} was not ready after {timeout_s:g} s ({waiting_for}); "
        f"last lines of {log_path}:\n{log_tail(log_path)}"
    )


def wait_for_ready_file(
    process: subprocess.Popen[bytes], ready_path: Path, log_path: Path, deadline_s: float, what: str
) -> dict[str, Any]:
    """The JSON a server writes once it listens; StackError if it dies or the deadline passes."""
    started_s = time.monotonic()
    while True:
        if process.poll() is not None:
            raise died(what, process, log_path)
        if ready_path.exists():
            info: dict[str, Any] = json.loads(ready_path.read_text())
            return info
        if time.monotonic() > deadline_s:
            waited_s = time.monotonic() - started_s
            raise timed_out(what, waited_s, f"no {ready_path}", log_path)
        time.sleep(POLL_S)


def wait_for_health(
    process: subprocess.Popen[bytes], health_url: str, log_path: Path, timeout_s: float, what: str
) -> None:
    """Poll ``health_url`` until it answers 200; StackError if the process dies or time runs out."""
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
                raise died(what, process, log_path)
            if time.monotonic() > deadline_s:
                raise timed_out(what, timeout_s, last, log_path)
            time.sleep(POLL_S)
