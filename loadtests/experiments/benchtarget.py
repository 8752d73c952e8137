"""A minimal, fast HTTP target on loopback for benchmarks and tests, with faults on demand.

``python -m loadtests.experiments.benchtarget --port 0 --ready-file F [--freeze-at S --freeze-for S]
[--mode MODE]`` answers every request with ``200 ok`` at once, except that requests arriving
during the freeze window (seconds after the first request) are held until it ends, as a stalled
server would hold them. ``--mode`` makes it misbehave instead: ``status5xx`` (503),
``malformed`` (not HTTP), ``truncated`` (the body stops short and the connection closes),
``slow`` (the body arrives ``--slow-ms`` after the headers), ``reset`` (the connection is
reset), ``hang`` (no answer). ``--served-file F`` keeps the number of requests read so far in
F (rewritten every 50 ms while it changes), so a test can act after a given amount of load;
``--arrivals-file F`` writes each request's arrival (epoch microseconds, this machine's clock) to
F at exit; ``--host`` binds another loopback address.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import struct
import time
from pathlib import Path

from analysis.contract.atomic import write_text_atomic

_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
_UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"
_MALFORMED = b"<html>this is not an HTTP response</html>\r\n\r\n"
_TRUNCATED = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b"
_SLOW_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
MODES = ("ok", "status5xx", "malformed", "truncated", "slow", "reset", "hang")


class FreezeWindow:
    """A freeze of ``for_s`` seconds starting ``at_s`` after the first request arrives."""

    def __init__(self, at_s: float, for_s: float) -> None:
        self._at_s, self._for_s = at_s, for_s
        self._window: tuple[float, float] | None = None if for_s > 0 else (0.0, 0.0)

    def window(self, now: float) -> tuple[float, float]:
        if self._window is None:
            self._window = (now + self._at_s, now + self._at_s + self._for_s)
        return self._window


class _Protocol(asyncio.Protocol):
    def __init__(
        self,
        freeze: FreezeWindow,
        mode: str = "ok",
        slow_s: float = 0.5,
        heads: list[bytes] | None = None,
        served: list[int] | None = None,
        arrivals: list[int] | None = None,
    ) -> None:
        self._served = served if served is not None else [0]
        self._arrivals = arrivals
        self._heads = heads  # request heads kept for --log-heads (tests check what was sent)
        self._freeze = freeze
        self._mode = mode
        self._slow_s = slow_s
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
            if self._heads is not None and len(self._heads) < 100:
                self._heads.append(self._buf[:end])
            self._buf = self._buf[end + 4 + length :]
            self._served[0] += 1
            if self._arrivals is not None and len(self._arrivals) < 1_000_000:
                self._arrivals.append(time.time_ns() // 1000)
            self._answer()

    def _answer(self) -> None:
        transport = self._transport
        assert transport is not None
        if self._mode != "ok":
            self._misbehave(transport)
            return
        now = time.monotonic()
        start, stop = self._freeze.window(now)
        if start <= now < stop:
            asyncio.get_running_loop().call_later(stop - now, transport.write, _RESPONSE)
        else:
            transport.write(_RESPONSE)

    def _misbehave(self, transport: asyncio.Transport) -> None:
        mode = self._mode
        if mode == "status5xx":
            transport.write(_UNAVAILABLE)
        elif mode == "malformed":
            transport.write(_MALFORMED)
        elif mode == "truncated":
            transport.write(_TRUNCATED)
            transport.close()
        elif mode == "slow":
            transport.write(_SLOW_HEAD)
            asyncio.get_running_loop().call_later(self._slow_s, transport.write, b"ok")
        elif mode == "reset":
            sock = transport.get_extra_info("socket")
            if sock is not None:  # linger 0: close sends RST, as a crashing peer would
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        # "hang": read the request, never answer


async def _serve(
    port: int,
    ready_file: Path | None,
    freeze_at_s: float,
    freeze_for_s: float,
    mode: str = "ok",
    slow_s: float = 0.5,
    heads_file: Path | None = None,
    served_file: Path | None = None,
    host: str = "127.0.0.1",
    arrivals_file: Path | None = None,
):
    heads: list[bytes] | None = [] if heads_file else None
    arrivals: list[int] | None = [] if arrivals_file else None
    served = [0]
    freeze = FreezeWindow(freeze_at_s, freeze_for_s)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Protocol(freeze, mode, slow_s, heads, served, arrivals),
        host,
        port,
        reuse_address=True,
    )
    writer = loop.create_task(_write_served(served_file, served)) if served_file else None
    actual = server.sockets[0].getsockname()[1]
    if ready_file is not None:
        write_text_atomic(ready_file, json.dumps({"pid": os.getpid(), "port": actual}))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    if writer is not None:
        writer.cancel()
    if heads_file is not None and heads is not None:
        heads_file.write_bytes(b"\n\n".join(heads))
    if arrivals_file is not None and arrivals is not None:
        write_text_atomic(arrivals_file, "".join(f"{us}\n" for us in arrivals))


async def _write_served(path: Path, served: list[int]) -> None:
    written = -1
    while True:
        if served[0] != written:
            written = served[0]
            write_text_atomic(path, str(written), durable=False)
        await asyncio.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--freeze-at", type=float, default=0.0, help="s after the first request")
    parser.add_argument("--freeze-for", type=float, default=0.0, help="seconds; 0: never")
    parser.add_argument("--mode", choices=MODES, default="ok")
    parser.add_argument("--slow-ms", type=float, default=500.0, help="body delay of mode slow")
    parser.add_argument("--log-heads", type=Path, help="write the first 100 request heads here")
    parser.add_argument("--served-file", type=Path, help="keep the count of requests read here")
    parser.add_argument("--arrivals-file", type=Path, help="write arrival times here at exit")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    args = parser.parse_args(argv)
    if not args.host.startswith("127.") and args.host != "::1":
        parser.error(f"--host {args.host}: the bench target only listens on loopback")
    asyncio.run(
        _serve(
            args.port, args.ready_file, args.freeze_at, args.freeze_for, args.mode,
            args.slow_ms / 1000,
            args.log_heads,
            args.served_file,
            args.host,
            args.arrivals_file,
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
