"""The asyncio server's streamed responses, in-process: flushing, failures and backpressure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable

from loadtests.stack.http.parser import BadRequest, Request, Response, StreamingResponse
from loadtests.stack.http.server import ServerHandle, start_server
from tests.loadtests.conftest import HANG_S

REQUEST = b"GET /s HTTP/1.1\r\nHost: x\r\n\r\n"
BIG_CHUNK = b"x" * 65536


class StreamApp:
    """Answers every request with a stream from ``chunks()``."""

    def __init__(self, chunks: Callable[[], AsyncGenerator[bytes, None]]) -> None:
        self._chunks = chunks

    def handle(self, request: Request) -> StreamingResponse:
        return StreamingResponse(200, self._chunks(), "text/plain")

    def reject(self, bad: BadRequest) -> Response:
        return Response(bad.status, bad.message.encode())


async def _connect(
    app: StreamApp,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, ServerHandle]:
    server = await start_server(app, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    return reader, writer, server


def test_each_chunk_is_written_when_it_is_produced() -> None:
    # The second chunk is produced only once the client has read the first, so no timing is
    # involved: a server that held chunks back until the stream ends would never deliver the
    # first one and this test would fail at the HANG_S deadline.
    produced: list[bytes] = []
    first_read = asyncio.Event()

    async def chunks() -> AsyncGenerator[bytes, None]:
        produced.append(b"first")
        yield b"first"
        await first_read.wait()
        produced.append(b"second")
        yield b"second"

    async def scenario() -> tuple[list[bytes], bytes]:
        reader, writer, server = await _connect(StreamApp(chunks))
        writer.write(REQUEST)
        await asyncio.wait_for(reader.readuntil(b"5\r\nfirst\r\n"), HANG_S)
        produced_when_read = list(produced)
        first_read.set()
        rest = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), HANG_S)
        writer.close()
        await server.close()
        return produced_when_read, rest

    produced_when_read, rest = asyncio.run(scenario())
    assert produced_when_read == [b"first"]  # not held back until the stream ends
    assert rest == b"6\r\nsecond\r\n0\r\n\r\n"


def test_a_stream_that_fails_midway_cuts_the_connection_without_a_last_chunk() -> None:
    async def chunks() -> AsyncGenerator[bytes, None]:
        yield b"part"
        raise RuntimeError("boom")

    async def scenario() -> bytes:
        reader, writer, server = await _connect(StreamApp(chunks))
        writer.write(REQUEST)
        raw = await reader.read(-1)  # returns at EOF: the server closed the connection
        writer.close()
        await server.close()
        return raw

    raw = asyncio.run(scenario())
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert raw.endswith(b"4\r\npart\r\n")  # neither the last chunk nor an error answer follows


def test_a_client_that_does_not_read_pauses_the_producer() -> None:
    produced = [0]

    async def chunks() -> AsyncGenerator[bytes, None]:
        for _ in range(800):  # 50 MiB: more than any loopback socket buffers
            produced[0] += 1
            yield BIG_CHUNK

    async def stalled() -> int:
        """Chunks produced once production stops while nobody reads (polled every 20 ms)."""
        deadline_s = time.monotonic() + HANG_S
        seen = -1
        while produced[0] == 0 or produced[0] != seen:
            assert time.monotonic() < deadline_s, f"the producer never stopped: {produced[0]}"
            seen = produced[0]
            await asyncio.sleep(0.02)
        return seen

    async def scenario() -> tuple[int, int]:
        reader, writer, server = await _connect(StreamApp(chunks))
        writer.write(REQUEST)
        # Not reading: the server's buffers fill and it must wait, so production stops short.
        stalled_at = await stalled()
        body = 0
        while data := await reader.read(1 << 20):
            body += len(data)
            if data.endswith(b"0\r\n\r\n"):
                break
        writer.close()
        await server.close()
        return stalled_at, body

    stalled_at, body = asyncio.run(scenario())
    assert stalled_at < 400
    assert produced[0] == 800 and body > 800 * len(BIG_CHUNK)
