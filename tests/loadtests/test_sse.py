"""Token timing of streamed responses: a fake clock for the parser, a real socket for the client."""

import itertools
import time

from loadtests.engine.client import Http1Pool, build_request
from loadtests.engine.sse import TokenClock
from tests.loadtests.test_http1 import CraftedServer


def _chunk(text: str) -> bytes:
    return (
        b'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"'
        + text.encode()
        + b'"}}]}\n\n'
    )


ROLE = b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n'
EMPTY = b'data: {"choices":[{"delta":{"content":""}}]}\n\n'
DONE = b"data: [DONE]\n\n"


def test_token_clock_counts_content_events_with_their_arrival_times():
    ticks = itertools.count(100, 10)
    clock = TokenClock(lambda: next(ticks))
    clock.feed(ROLE)  # t=100: no content yet
    clock.feed(_chunk("Hel"))  # t=110
    clock.feed(_chunk("lo")[:20])  # t=120: half an event
    clock.feed(_chunk("lo")[20:] + EMPTY)  # t=130: completes it; an empty delta is no token
    clock.feed(b'data: {"choices":[{"delta":{"content": "!"}}]}\r\n\r\n' + DONE)  # t=140
    assert clock.tokens == 3
    assert (clock.first_us, clock.last_us) == (110, 140)
    assert clock.done


def test_stream_without_done_is_not_done():
    clock = TokenClock(lambda: 1)
    clock.feed(_chunk("a") + _chunk("b"))
    assert clock.tokens == 2 and not clock.done


def test_chunked_sse_response_reaches_the_sink_as_it_arrives():
    events = [ROLE, _chunk("one "), _chunk("two "), _chunk("three"), DONE]
    pieces = [b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n"]  # fmt: skip
    pieces += [f"{len(e):x}\r\n".encode() + e + b"\r\n" for e in events]
    pieces.append(b"0\r\n\r\n")
    server = CraftedServer([pieces])  # each piece is sent 10 ms after the previous one
    pool = Http1Pool(server.url, 2.0, lambda: time.time_ns() // 1000)
    clock = TokenClock(lambda: time.time_ns() // 1000)
    response = pool.request(
        build_request("POST", "/v1/chat/completions", "h", b"{}", {}), clock.feed
    )
    assert response.status == 200
    assert response.body_bytes == sum(len(e) for e in events)
    assert clock.tokens == 3 and clock.done
    assert clock.last_us - clock.first_us >= 15_000  # two 10 ms gaps between the three tokens
    assert clock.first_us >= response.ttfb_us
    server.close()
