"""A minimal, fast HTTP target on loopback for benchmarks and tests, with an optional freeze.

``python -m loadtests.benchtarget --port 0 --ready-file F [--freeze-at S --freeze-for S]``
answers every request with ``200 ok`` at once, except that requests arriving during the freeze
window (seconds after start) are held until it ends, as a stalled server would hold them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
from pathlib import Path

_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class _Protocol(asyncio.Protocol):
    def __init__(self, freeze: tuple[float, float]) -> None:
        self._freeze = freeze
        self._buf = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while (end := self._buf.find(b"\r\n\r\n")) >= 0:
            head = self._buf[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            if len(self._buf) < end + 4 + length:
                return
            self._buf = self._buf[end + 4 + length :]
            self._answer()

    def _answer(self) -> None:
        assert self._transport is not None
        start, stop = self._freeze
        now = time.monotonic()
        if start <= now < stop:
            asyncio.get_running_loop().call_later(stop - now, self._transport.write, _RESPONSE)
        else:
            self._transport.write(_RESPONSE)


async def _serve(port: int, ready_file: Path | None, freeze_at_s: float, freeze_for_s: float):
    t0 = time.monotonic()
    freeze = (t0 + freeze_at_s, t0 + freeze_at_s + freeze_for_s) if freeze_for_s > 0 else (0, 0)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(freeze), "127.0.0.1", port)
    actual = server.sockets[0].getsockname()[1]
    if ready_file is not None:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "port": actual}))
        os.replace(tmp, ready_file)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--freeze-at", type=float, default=0.0, help="seconds after start")
    parser.add_argument("--freeze-for", type=float, default=0.0, help="seconds; 0: never")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port, args.ready_file, args.freeze_at, args.freeze_for))


if __name__ == "__main__":
    main()
