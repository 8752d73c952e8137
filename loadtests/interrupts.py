"""Ctrl-C at a safe point: while processes are being started, a first SIGINT is only noted.

A KeyboardInterrupt raised at a random point of a start-up can land between a fork and the
line that keeps the new process's handle (the process then outlives the harness), or in an
at-fork hook, where Python prints it as "Exception ignored" and drops it (the run then goes
on). Inside ``deferred_interrupt`` the first SIGINT only sets a flag, which the caller checks
once the start-up has returned, so every process started is stopped with the rest; a second
SIGINT raises KeyboardInterrupt at once, for a start-up that hangs.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Inside the block a first SIGINT is noted, not raised; yields ``interrupted()``."""
    seen: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        if seen:
            raise KeyboardInterrupt
        seen.append(signum)

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield lambda: bool(seen)
    finally:
        signal.signal(signal.SIGINT, previous)


__all__ = ["deferred_interrupt"]
