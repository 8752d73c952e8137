"""OpenAI chat-completions wire format: request validation, cache keys and response bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SSE_DONE",
    "ChatRequest",
    "StreamEvents",
    "error_body",
    "mark_cached",
    "parse_chat_request",
    "render_completion",
    "stream_events",
]

# The event that ends an OpenAI stream.
SSE_DONE = b"data: [DONE]\n\n"

_FILLER_WORDS = ("the", "edge", "agent", "answers", "from", "its", "stand-in", "upstream")
_CHARS_PER_TOKEN = 4
_TOKENS_PER_MESSAGE = 4


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """The fields of a chat-completion request that the stand-in acts on."""

    model: str
    messages: list[Any]
    max_tokens: int | None
    stream: bool
    include_usage: bool = False  # stream_options.include_usage: end the stream with usage

    def cache_key(self) -> str:
        """Key of the response cache: model, max_tokens and the canonical JSON of the messages."""
        messages = json.dumps(
            self.messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return f"{self.model}\x00{self.max_tokens}\x00{messages}"


def parse_chat_request(body: bytes) -> ChatRequest | str:
    """Validate a request body; return the request, or the message of the 400 to answer."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"request body is not valid JSON: {exc}"
    if not isinstance(data, dict):
        return "request body must be a JSON object"
    model = data.get("model")
    if not isinstance(model, str) or not model:
        return "'model' is required and must be a non-empty string"
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' is required and must be a non-empty array"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return f"messages[{index}] must be an object with a string 'role'"
        if not isinstance(message.get("content"), str | list | None):
            return f"messages[{index}].content must be a string, an array or null"
    max_tokens = data.get("max_tokens", data.get("max_completion_tokens"))
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        return "'max_tokens' must be a positive integer"
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        return "'stream' must be a boolean"
    options = data.get("stream_options")
    if options is not None and not isinstance(options, dict):
        return "'stream_options' must be an object"
    include_usage = (options or {}).get("include_usage", False)
    if not isinstance(include_usage, bool):
        return "'stream_options.include_usage' must be a boolean"
    return ChatRequest(model, messages, max_tokens, stream, include_usage)


def _prompt_tokens(messages: list[Any]) -> int:
    # A rough tokenizer stand-in: about four characters per token plus a per-message overhead.
    chars = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    chars += len(part["text"])
    return chars // _CHARS_PER_TOKEN + _TOKENS_PER_MESSAGE * len(messages)


def render_completion(
    request: ChatRequest,
    *,
    completion_tokens: int,
    completion_id: str,
    created_s: int,
    honour_max_tokens: bool = False,
) -> bytes:
    """Serialise a chat.completion answering ``request`` with a filler text of n tokens.

    n is ``completion_tokens`` capped by the request's ``max_tokens``; with
    ``honour_max_tokens``, exactly the request's ``max_tokens`` when it gives one. The usage says
    ``cached_tokens`` 0: a body is rendered on a miss (``mark_cached`` turns it into a hit's).
    """
    if request.max_tokens is not None:
        completion_tokens = (
            request.max_tokens if honour_max_tokens else min(completion_tokens, request.max_tokens)
        )
    words = _FILLER_WORDS
    content = " ".join(words[i % len(words)] for i in range(completion_tokens))
    prompt_tokens = _prompt_tokens(request.messages)
    return json.dumps(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created_s,
            "model": request.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        },
        separators=(",", ":"),
    ).encode()


_PROMPT_TOKENS = b'"prompt_tokens":'
_UNCACHED = b'"prompt_tokens_details":{"cached_tokens":0}}}'


def mark_cached(body: bytes) -> bytes:
    """A ``render_completion`` body as a cache hit answers it: all its prompt tokens cached.

    The stand-in's cache holds whole answers, so a hit served every prompt token from the cache
    (``cached_tokens`` = ``prompt_tokens``); a miss served none. The usage ends the body, so
    this is one replacement at its end, cheap enough for every hit.
    """
    at = body.rfind(_PROMPT_TOKENS)
    if at < 0 or not body.endswith(_UNCACHED):
        return body  # not a body of this version's render_completion: leave it as it is
    start = at + len(_PROMPT_TOKENS)
    prompt_tokens = int(body[start : body.index(b",", start)])
    cached = b'"prompt_tokens_details":{"cached_tokens":%d}}}' % prompt_tokens
    return body[: -len(_UNCACHED)] + cached


@dataclass(frozen=True, slots=True)
class StreamEvents:
    """A chat.completion as server-sent chat.completion.chunk events (each ends in a blank line).

    ``role`` opens the stream, ``tokens`` carry one content token each, ``stop`` has the
    finish_reason; ``usage`` (when asked for) is OpenAI's last chunk, with empty choices and
    the completion's usage; SSE_DONE follows.
    """

    role: bytes
    tokens: tuple[bytes, ...]
    stop: bytes
    usage: bytes = b""


def stream_events(completion: bytes, include_usage: bool = False) -> StreamEvents:
    """Split a ``render_completion`` body into stream events, one per word of its content.

    The JSON is compact (``"content":"..."``, no spaces): the harness finds tokens by that text.
    """
    data = json.loads(completion)
    head = json.dumps(
        {
            "id": data["id"],
            "object": "chat.completion.chunk",
            "created": data["created"],
            "model": data["model"],
        },
        separators=(",", ":"),
    )[:-1]

    def event(delta: str, finish_reason: str) -> bytes:
        choice = f'{{"index":0,"delta":{delta},"finish_reason":{finish_reason}}}'
        return f'data: {head},"choices":[{choice}]}}\n\n'.encode()

    words = data["choices"][0]["message"]["content"].split(" ")
    # OpenAI tokens carry their leading space, so the joined deltas equal the content.
    texts = [words[0], *(f" {word}" for word in words[1:])]
    usage = json.dumps(data.get("usage"), separators=(",", ":"))
    return StreamEvents(
        role=event('{"role":"assistant"}', "null"),
        tokens=tuple(event(f'{{"content":{json.dumps(text)}}}', "null") for text in texts),
        stop=event("{}", '"stop"'),
        usage=f'data: {head},"choices":[],"usage":{usage}}}\n\n'.encode() if include_usage else b"",
    )


def error_body(message: str, error_type: str = "invalid_request_error") -> bytes:
    """Serialise an OpenAI-style error object."""
    return json.dumps(
        {"error": {"message": message, "type": error_type, "param": None, "code": None}},
        separators=(",", ":"),
    ).encode()
