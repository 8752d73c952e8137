"""Token timing of a streamed (server-sent events) chat completion, without parsing its JSON.

Parsing every chunk as JSON would cost the generator more CPU than the rest of the request; an
OpenAI chunk carries its text as ``"content":"..."``, so a content token is an event whose data
has a non-empty content string. ``data: [DONE]`` ends the stream.
"""

from __future__ import annotations

from collections.abc import Callable

_CONTENT = b'"content":'


def _has_content(payload: bytes) -> bool:
    at = payload.find(_CONTENT)
    if at < 0:
        return False
    rest = payload[at + len(_CONTENT) :].lstrip()
    return rest.startswith(b'"') and not rest.startswith(b'""')


class TokenClock:
    """Fed body bytes as they arrive; keeps first/last content-token times and the count."""

    __slots__ = ("_buf", "_now_us", "done", "first_us", "last_us", "tokens")

    def __init__(self, now_us: Callable[[], int]) -> None:
        self._now_us = now_us
        self._buf = b""
        self.first_us = -1
        self.last_us = -1
        self.tokens = 0
        self.done = False

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
                    self.last_us = at_us
        self._buf = buf


__all__ = ["TokenClock"]
