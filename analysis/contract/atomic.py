"""Atomic file writes: write a temporary file beside the target, then rename it over.

The one helper every stage uses (the load's sample parts, ready and state files, the collected
series, every analysis output): a reader sees no file or the whole file, never a torn one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: Path, write: Callable[[BinaryIO], None], *, durable: bool = True) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then ``os.replace`` it over ``path``.

    ``durable=False`` skips the fsync, for files rewritten many times a second that only need
    to be whole, not to survive a power cut (progress counters).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path, text: str, *, durable: bool = True) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    data = text.encode("utf-8")

    def write(handle: BinaryIO) -> None:
        handle.write(data)

    return write_atomic(path, write, durable=durable)


__all__ = ["write_atomic", "write_text_atomic"]
