"""Chat-completion request validation, cache keys and response bodies."""

from __future__ import annotations

import json

import pytest

from loadtests.stack.agent.openai_api import (
    SSE_DONE,
    ChatRequest,
    error_body,
    mark_cached,
    parse_chat_request,
    render_completion,
    stream_events,
)

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def _parse(payload: object) -> ChatRequest:
    parsed = parse_chat_request(json.dumps(payload).encode())
    assert isinstance(parsed, ChatRequest), parsed
    return parsed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "'model' is required"),
        (b'{"model": "m"}', "'messages' is required"),
        (b'{"model": "m", "messages": []}', "'messages' is required"),
        (b'{"model": "m", "messages": ["hi"]}', "messages[0]"),
        (b'{"model": "m", "messages": [{"role": "user", "content": 5}]}', "messages[0].content"),
        (b'{"model": "m", "messages": [{"role": "u"}], "max_tokens": 0}', "max_tokens"),
        (b'{"model": "m", "messages": [{"role": "u"}], "max_tokens": true}', "max_tokens"),
        (b'{"model": "m", "messages": [{"role": "u"}], "stream": "yes"}', "'stream'"),
        (b'{"model": "m", "messages": [{"role": "u"}], "stream_options": 1}', "'stream_options'"),
        (
            b'{"model": "m", "messages": [{"role": "u"}], "stream_options": {"include_usage": 1}}',
            "include_usage",
        ),
    ],
)
def test_invalid_requests_explain_the_problem(body: bytes, message: str) -> None:
    problem = parse_chat_request(body)
    assert isinstance(problem, str)
    assert message in problem


def test_cache_key_ignores_key_order_and_other_fields_but_not_max_tokens() -> None:
    base = _parse({"model": "m", "messages": MESSAGES, "max_tokens": 8})
    reordered = _parse(
        {
            "temperature": 0.3,
            "max_tokens": 8,
            "messages": [{"content": MESSAGES[0]["content"], "role": "user"}],
            "model": "m",
        }
    )
    assert base.cache_key() == reordered.cache_key()
    assert base.cache_key() != _parse({"model": "m", "messages": MESSAGES}).cache_key()
    assert (
        base.cache_key()
        != _parse({"model": "n", "messages": MESSAGES, "max_tokens": 8}).cache_key()
    )


def test_completion_is_an_openai_chat_completion_capped_by_max_tokens() -> None:
    request = _parse({"model": "gpt-4o", "messages": MESSAGES, "max_tokens": 5})
    body = json.loads(
        render_completion(request, completion_tokens=32, completion_id="chatcmpl-1", created_s=1700)
    )
    assert body["object"] == "chat.completion"
    assert (body["id"], body["created"], body["model"]) == ("chatcmpl-1", 1700, "gpt-4o")
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert len(choice["message"]["content"].split()) == 5
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["completion_tokens"] == 5
    assert usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + 5


def test_error_body_is_openai_shaped() -> None:
    assert json.loads(error_body("bad"))["error"] == {
        "message": "bad",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_stream_events_are_compact_openai_chunks_one_token_each() -> None:
    chat = ChatRequest("gpt-4o", [{"role": "user", "content": "hi"}], 3, True)
    body = render_completion(chat, completion_tokens=10, completion_id="c-1", created_s=7)
    events = stream_events(body)
    assert len(events.tokens) == 3  # max_tokens caps the completion
    chunks = [json.loads(e.removeprefix(b"data: ")) for e in (events.role, *events.tokens)]
    for chunk in chunks:
        assert (chunk["id"], chunk["object"], chunk["created"]) == (
            "c-1",
            "chat.completion.chunk",
            7,
        )
        assert chunk["model"] == "gpt-4o"
        assert chunk["choices"][0]["finish_reason"] is None
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    text = "".join(c["choices"][0]["delta"]["content"] for c in chunks[1:])
    assert text == json.loads(body)["choices"][0]["message"]["content"]
    assert all(e.endswith(b"}\n\n") and b'"content":"' in e for e in events.tokens)
    stop = json.loads(events.stop.removeprefix(b"data: "))
    assert stop["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert SSE_DONE == b"data: [DONE]\n\n"


def test_honour_max_tokens_gives_exactly_max_tokens_and_otherwise_the_cap_stays() -> None:
    request = _parse({"model": "m", "messages": MESSAGES, "max_tokens": 300})
    unset = _parse({"model": "m", "messages": MESSAGES})

    def completion(chat: ChatRequest, honour: bool) -> int:
        body = render_completion(
            chat, completion_tokens=32, completion_id="c", created_s=1, honour_max_tokens=honour
        )
        data = json.loads(body)
        assert (
            len(data["choices"][0]["message"]["content"].split())
            == data["usage"]["completion_tokens"]
        )
        return int(data["usage"]["completion_tokens"])

    assert completion(request, honour=True) == 300
    assert completion(request, honour=False) == 32  # today's default: the fixed count
    assert completion(unset, honour=True) == 32  # no max_tokens: the fixed count


def test_a_cache_hit_reports_every_prompt_token_as_cached() -> None:
    request = _parse({"model": "m", "messages": MESSAGES})
    miss = render_completion(request, completion_tokens=4, completion_id="c", created_s=1)
    usage = json.loads(miss)["usage"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}
    hit = json.loads(mark_cached(miss))
    assert hit["usage"]["prompt_tokens_details"] == {"cached_tokens": usage["prompt_tokens"]}
    assert {k: v for k, v in hit["usage"].items() if k != "prompt_tokens_details"} == {
        k: v for k, v in usage.items() if k != "prompt_tokens_details"
    }
    assert mark_cached(b'{"usage":null}') == b'{"usage":null}'  # a foreign body stays as it is


def test_stream_ends_with_a_usage_chunk_only_when_asked() -> None:
    chat = _parse(
        {
            "model": "m",
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    assert chat.include_usage
    body = render_completion(chat, completion_tokens=3, completion_id="c-2", created_s=7)
    assert stream_events(body).usage == b""
    usage_event = stream_events(body, include_usage=True).usage
    assert usage_event.startswith(b"data: ") and usage_event.endswith(b"}\n\n")
    chunk = json.loads(usage_event.removeprefix(b"data: "))
    assert chunk["object"] == "chat.completion.chunk" and chunk["choices"] == []
    assert chunk["usage"] == json.loads(body)["usage"]
    assert chunk["usage"]["completion_tokens"] == 3
