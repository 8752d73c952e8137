"""Token timing of streamed responses: a fake clock for the parser, a real socket for the client."""

import itertools
import time

from loadtests.engine.client import Http1Pool, build_request
from loadtests.engine.sse import BodyUsage, TokenClock, Usage
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
    assert clock.gaps_us == [20, 10]  # one gap per content chunk after the first
    assert clock.done
    assert clock.usage.as_tuple() == (-1, -1, -1)  # this stream reported no usage


USAGE_CHUNK = (
    b'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":'
    b'57,"completion_tokens":3,"total_tokens":60,"prompt_tokens_details":{"cached_tokens":57}}}'
    b"\n\n"
)


def test_chunks_read_together_are_gaps_of_zero_and_the_usage_chunk_is_read():
    ticks = iter([5, 40, 90])
    clock = TokenClock(lambda: next(ticks))
    clock.feed(_chunk("a"))  # t=5
    clock.feed(_chunk("b") + _chunk("c") + b'data: {"usage":null,"choices":[]}\n\n')  # t=40
    clock.feed(USAGE_CHUNK + DONE)  # t=90
    assert clock.tokens == 3 and clock.gaps_us == [35, 0]
    assert clock.usage.as_tuple() == (57, 3, 57)
    assert clock.done


def test_usage_fields_the_server_left_out_stay_unreported():
    usage = Usage()
    usage.read(b'{"usage":{"prompt_tokens": 12, "completion_tokens": 0, "total_tokens": 12}}')
    assert usage.as_tuple() == (12, 0, -1)
    usage.read(b'{"choices":[]}')  # no usage object: what was read stays
    assert usage.as_tuple() == (12, 0, -1)


def test_plain_body_usage_is_read_once_the_body_is_whole():
    body = (
        b'{"id":"c","object":"chat.completion","choices":[{"message":{"content":"hi"}}],'
        b'"usage":{"prompt_tokens":9,"completion_tokens":32,"total_tokens":41}}'
    )
    reader = BodyUsage()
    for at in range(0, len(body), 7):  # split inside field names and numbers
        reader.feed(body[at : at + 7])
    reader.finish()
    assert reader.usage.as_tuple() == (9, 32, -1)


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
