"""The HTTP/1.x parser and encoder on crafted byte streams."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

from loadtests.stack.http.parser import (
    LAST_CHUNK,
    BadRequest,
    Request,
    RequestParser,
    Response,
    StreamingResponse,
    encode_chunk,
    encode_response,
    encode_stream_head,
)

POST = (
    b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\n"
    b"Content-Type: application/json\r\nContent-Length: 13\r\n\r\n"
    b'{"model":"m"}'
)
GET = b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n"


def _only_request(items: list[Request | BadRequest]) -> Request:
    assert len(items) == 1
    assert isinstance(items[0], Request)
    return items[0]


def test_parses_a_post_with_body_query_and_lowercase_headers() -> None:
    request = _only_request(RequestParser().feed(POST))
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.query == "x=1"
    assert request.http11 and request.keep_alive
    assert request.headers["content-type"] == "application/json"
    assert request.body == b'{"model":"m"}'


def test_byte_by_byte_feeding_yields_the_request_only_at_its_last_byte() -> None:
    parser = RequestParser()
    for index in range(len(POST) - 1):
        assert parser.feed(POST[index : index + 1]) == []
    assert _only_request(parser.feed(POST[-1:])).body == b'{"model":"m"}'


def test_two_requests_in_one_read_and_a_third_split_across_reads() -> None:
    parser = RequestParser()
    items = parser.feed(POST + GET + POST[:20])
    assert [type(i) for i in items] == [Request, Request]
    assert [i.path for i in items if isinstance(i, Request)] == ["/v1/chat/completions", "/health"]
    assert _only_request(parser.feed(POST[20:])).body == b'{"model":"m"}'


def test_leading_empty_lines_are_ignored() -> None:
    assert _only_request(RequestParser().feed(b"\r\n\r\n" + GET)).path == "/health"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /health\r\n\r\n", 400),
        (b"GET  /health HTTP/1.1\r\n\r\n", 400),
        (b"GET /health HTTP/2.0\r\n\r\n", 505),
        (b"GET health HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\n\r\n", 411),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
        (b"POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", 413),
    ],
)
def test_malformed_requests_are_rejected_with_the_right_status(raw: bytes, status: int) -> None:
    items = RequestParser().feed(raw)
    assert len(items) == 1
    assert isinstance(items[0], BadRequest)
    assert items[0].status == status


def test_parser_stops_after_a_bad_request() -> None:
    parser = RequestParser()
    assert isinstance(parser.feed(b"BAD\r\n\r\n" + GET)[0], BadRequest)
    assert parser.feed(GET) == []


def test_oversized_head_is_rejected_without_waiting_for_its_end() -> None:
    parser = RequestParser(max_header_bytes=1024)
    items = parser.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 2000)
    assert len(items) == 1
    assert isinstance(items[0], BadRequest)
    assert items[0].status == 431


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        (b"1.1", b"", True),
        (b"1.1", b"Connection: close\r\n", False),
        (b"1.1", b"Connection: Keep-Alive, Close\r\n", False),
        (b"1.0", b"", False),
        (b"1.0", b"Connection: keep-alive\r\n", True),
    ],
)
def test_keep_alive_follows_version_and_connection_header(
    version: bytes, connection: bytes, keep_alive: bool
) -> None:
    raw = b"GET /health HTTP/" + version + b"\r\n" + connection + b"\r\n"
    assert _only_request(RequestParser().feed(raw)).keep_alive is keep_alive


def test_absolute_form_target_is_reduced_to_its_path() -> None:
    raw = b"GET http://example.test:8080/health?a=b HTTP/1.1\r\n\r\n"
    request = _only_request(RequestParser().feed(raw))
    assert (request.path, request.query) == ("/health", "a=b")


def test_repeated_identical_content_length_is_accepted() -> None:
    raw = b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi"
    assert _only_request(RequestParser().feed(raw)).body == b"hi"


def test_encoded_response_frames_the_body_and_connection() -> None:
    response = Response(200, b'{"a":1}', "application/json", (("X-Cache-Status", "HIT"),))
    raw = encode_response(response, keep_alive=False)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    assert "Content-Length: 7" in lines
    assert "X-Cache-Status: HIT" in lines
    assert "Connection: close" in lines
    assert any(line.startswith("Date: ") and line.endswith(" GMT") for line in lines)
    assert body == b'{"a":1}'


def test_http10_keep_alive_is_announced_and_head_has_no_body() -> None:
    response = Response(404, b"nope")
    raw = encode_response(response, keep_alive=True, http11=False, head_only=True)
    assert raw.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert b"Connection: keep-alive\r\n" in raw
    assert b"Content-Length: 4\r\n" in raw
    assert raw.endswith(b"\r\n\r\n")


async def _no_chunks() -> AsyncGenerator[bytes, None]:
    yield b""


def test_stream_head_is_chunked_for_http11_and_close_delimited_for_http10() -> None:
    stream = StreamingResponse(200, _no_chunks(), headers=(("X-Cache-Status", "MISS"),))
    head = encode_stream_head(stream, keep_alive=True, http11=True).decode()
    assert head.startswith("HTTP/1.1 200 OK\r\n") and head.endswith("\r\n\r\n")
    assert "Content-Type: text/event-stream\r\n" in head
    assert "Transfer-Encoding: chunked\r\n" in head
    assert "X-Cache-Status: MISS\r\n" in head
    assert "Content-Length" not in head and "Connection" not in head
    old = encode_stream_head(stream, keep_alive=True, http11=False).decode()
    assert "Transfer-Encoding" not in old and "Connection: close\r\n" in old


def test_chunks_are_hex_sized_and_the_last_one_is_empty() -> None:
    assert encode_chunk(b"data: x\n\n" * 2) == b"12\r\ndata: x\n\ndata: x\n\n\r\n"
    assert LAST_CHUNK == b"0\r\n\r\n"
