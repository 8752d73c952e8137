"""What the stack's asyncio servers share: listening, ready files, URLs and the event loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from analysis.contract.atomic import write_text_atomic
from loadtests.errors import StackError
from loadtests.stack.http.parser import MAX_BODY_BYTES
from loadtests.stack.http.server import App, ServerHandle, start_server

__all__ = ["http_url", "listen", "run_loop", "write_ready_file"]


def http_url(host: str, port: int, path: str = "") -> str:
    """``http://host:port`` + path, with brackets around IPv6 literals."""
    netloc = f"[{host}]" if ":" in host else host
    return f"http://{netloc}:{port}{path}"


def write_ready_file(path: Path, info: dict[str, Any]) -> None:
    """Write ``info`` as JSON atomically: readers see no file or the whole file."""
    write_text_atomic(path, json.dumps(info))


async def listen(
    app: App, host: str, port: int, what: str, *, max_body_bytes: int = MAX_BODY_BYTES
) -> ServerHandle:
    """Serve ``app`` on ``host:port``; StackError naming ``what`` when the port is taken."""
    try:
        return await start_server(app, host, port, max_body_bytes=max_body_bytes)
    except OSError as exc:
        raise StackError(
            f"cannot listen for {what} on {host} port {port}: {exc}; "
            "free the port or pass 0 to pick a free one"
        ) from exc


def run_loop(coro: Coroutine[Any, Any, None]) -> None:
    """Run ``coro`` on uvloop when it is installed, else on asyncio's default loop."""
    try:
        import uvloop
    except ImportError:  # uvloop is optional (not on Windows); the default loop is just slower
        asyncio.run(coro)
    else:
        uvloop.run(coro)
