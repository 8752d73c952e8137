"""Token timing and usage of a chat completion, streamed or not, without parsing its JSON.

Parsing every chunk as JSON would cost the generator more CPU than the rest of the request; an
OpenAI chunk carries its text as ``"content":"..."``, so a content chunk is an event whose data
has a non-empty content string (one content chunk counts as one token here; the server's
``usage`` says how many tokens there really were). ``data: [DONE]`` ends the stream.

Arrival times are those of the body bytes: several events read at once share one instant, so the
gaps between them are 0 µs, as the client saw them. ``usage`` (OpenAI's last chunk with empty
choices, or the end of a plain body) is read by finding its integer fields, once per response.
"""

from __future__ import annotations

from collections.abc import Callable

_CONTENT = b'"content":'
_USAGE = b'"usage":{'
NOT_REPORTED = -1  # a usage field the server did not send


def _has_content(payload: bytes) -> bool:
    at = payload.find(_CONTENT)
    if at < 0:
        return False
    rest = payload[at + len(_CONTENT) :].lstrip()
    return rest.startswith(b'"') and not rest.startswith(b'""')


def _int_after(text: bytes, key: bytes) -> int:
    """The integer right after ``key`` in ``text`` (e.g. ``"prompt_tokens":``); -1 when none."""
    at = text.find(key)
    if at < 0:
        return NOT_REPORTED
    start = at + len(key)
    end = start
    while end < len(text) and text[end] in b" 0123456789":
        end += 1
    digits = text[start:end].strip()
    return int(digits) if digits else NOT_REPORTED


class Usage:
    """The token counts of a response's ``usage`` object (-1 each until one is read)."""

    __slots__ = ("cached_tokens", "completion_tokens", "prompt_tokens")

    def __init__(self) -> None:
        self.prompt_tokens = NOT_REPORTED
        self.completion_tokens = NOT_REPORTED
        self.cached_tokens = NOT_REPORTED

    def read(self, text: bytes) -> None:
        """Take the counts of the last ``"usage":{...}`` in ``text``, if it has one."""
        at = text.rfind(_USAGE)
        if at < 0:
            return
        usage = text[at:]
        self.prompt_tokens = _int_after(usage, b'"prompt_tokens":')
        self.completion_tokens = _int_after(usage, b'"completion_tokens":')
        self.cached_tokens = _int_after(usage, b'"cached_tokens":')

    def as_tuple(self) -> tuple[int, int, int]:
        return self.prompt_tokens, self.completion_tokens, self.cached_tokens


class BodyUsage:
    """Fed a plain (not streamed) body as it arrives; reads its ``usage`` at ``finish()``."""

    __slots__ = ("_parts", "usage")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.usage = Usage()

    def feed(self, data: bytes) -> None:
        self._parts.append(data)

    def finish(self) -> None:
        self.usage.read(b"".join(self._parts))
        self._parts = []


class TokenClock:
    """Fed body bytes as they arrive; keeps content-chunk times, the gaps between them, usage.

    ``gaps_us`` holds one gap per content chunk after the first: its arrival minus the previous
    one's, in µs (``tokens - 1`` of them).
    """

    __slots__ = ("_buf", "_now_us", "done", "first_us", "gaps_us", "last_us", "tokens", "usage")

    def __init__(self, now_us: Callable[[], int]) -> None:
        self._now_us = now_us
        self._buf = b""
        self.first_us = -1
        self.last_us = -1
        self.tokens = 0
        self.gaps_us: list[int] = []
        self.done = False
        self.usage = Usage()

    def feed(self, data: bytes) -> None:
        at_us = self._now_us()
        buf = (self._buf + data).replace(b"\r\n", b"\n")
        while (end := buf.find(b"\n\n")) >= 0:
            event, buf = buf[:end], buf[end + 2 :]
            for line in event.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    self.done = True
                elif _has_content(payload):
                    self.tokens += 1
                    if self.first_us < 0:
                        self.first_us = at_us
                    else:
                        self.gaps_us.append(at_us - self.last_us)
                    self.last_us = at_us
                if _USAGE in payload:  # OpenAI's last chunk; some servers put it on the last token
                    self.usage.read(payload)
        self._buf = buf

    def finish(self) -> None:
        """Nothing left to do: the stream's usage was read from its event (``BodyUsage`` alike)."""


__all__ = ["NOT_REPORTED", "BodyUsage", "TokenClock", "Usage"]
