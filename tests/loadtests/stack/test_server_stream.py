"""The asyncio server's streamed responses, in-process: flushing, failures and backpressure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable

from loadtests.stack.http11 import BadRequest, Request, Response, StreamingResponse
from loadtests.stack.server import ServerHandle, start_server

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
    async def chunks() -> AsyncGenerator[bytes, None]:
        yield b"first"
        await asyncio.sleep(0.2)
        yield b"second"

    async def scenario() -> tuple[float, bytes]:
        reader, writer, server = await _connect(StreamApp(chunks))
        sent_s = time.perf_counter()
        writer.write(REQUEST)
        await reader.readuntil(b"5\r\nfirst\r\n")
        first_s = time.perf_counter() - sent_s
        rest = await reader.readuntil(b"0\r\n\r\n")
        writer.close()
        await server.close()
        return first_s, rest

    first_s, rest = asyncio.run(scenario())
    assert first_s < 0.1  # not held back until the stream ends
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

    async def scenario() -> tuple[int, int]:
        reader, writer, server = await _connect(StreamApp(chunks))
        writer.write(REQUEST)
        await asyncio.sleep(0.3)  # not reading: the server's buffers fill and it must wait
        stalled_at = produced[0]
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
