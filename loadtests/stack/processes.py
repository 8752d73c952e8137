"""Helpers shared by the stack launchers: spawning into a log, stopping, free ports, log tails."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from loadtests.errors import StackError

__all__ = ["Popen", "free_port", "log_tail", "spawn", "stop_process"]

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
