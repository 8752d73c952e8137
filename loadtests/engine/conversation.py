"""Multi-turn sessions on the wire: each turn's messages carry every turn before it.

Turn k sends the user prompts of turns 1..k and the assistant's answers of turns 1..k-1, so the
prompt grows turn by turn as a real conversation's does. The answer appended is the one the
target sent (its text read from the response body once the response is complete, outside the
timed part): a cache that answered turn k from its store gives the same text, so a replayed
conversation reaches the same keys, while a fresh upstream answer makes the next turn new.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]

Message = dict[str, str]
_CONTENT = '"content":'


def answer_text(body: bytes, stream: bool) -> str:
    """The assistant's text in a chat completion body; "" when none can be read.

    A plain body is ``choices[0].message.content``; a stream is the concatenation of every
    ``"content":"..."`` delta (the same test as the token clock in ``sse``, without parsing
    each chunk).
    """
    text = body.decode("utf-8", errors="replace")
    if not stream:
        try:
            content = json.loads(text)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return ""
        return content if isinstance(content, str) else ""
    parts = []
    at = text.find(_CONTENT)
    while at >= 0:
        start = at + len(_CONTENT)
        while start < len(text) and text[start] == " ":
            start += 1
        end = start
        if text.startswith('"', start):
            try:
                part, end = scanstring(text, start + 1)
                parts.append(part)
            except ValueError:
                end = start + 1
        at = text.find(_CONTENT, max(end, start))
    return "".join(parts)


@dataclass(frozen=True)
class Turn:
    """One turn of a session: its place, its request bytes, and the conversation it belongs to."""

    session: int  # per generator process, from 1: (worker, session) names a session
    index: int  # 1 for the session's first turn
    turns: int  # turns the session is to have
    model: str
    raw: bytes
    conversation: Conversation

    @property
    def last(self) -> bool:
        return self.index >= self.turns


class Conversation:
    """One session's messages so far; ``first()`` and then ``next(answer)`` give its turns.

    ``prompt(k)`` is the user prompt of turn k, ``think_s()`` draws a think time, ``encode(model,
    messages)`` builds the request bytes: collaborators, so tests drive it with plain functions.
    """

    def __init__(
        self,
        session: int,
        turns: int,
        model: str,
        prompt: Callable[[int], str],
        think_s: Callable[[], float],
        encode: Callable[[str, list[Message]], bytes],
    ) -> None:
        self.session = session
        self.turns = turns
        self.model = model
        self._prompt = prompt
        self._think_s = think_s
        self._encode = encode
        self._messages: list[Message] = []
        self._index = 0

    def _turn(self) -> Turn:
        self._index += 1
        self._messages.append({"role": "user", "content": self._prompt(self._index)})
        raw = self._encode(self.model, list(self._messages))
        return Turn(self.session, self._index, self.turns, self.model, raw, self)

    def first(self) -> Turn:
        """Turn 1: the first user prompt alone."""
        if self._index:
            raise RuntimeError(f"session {self.session} has already started")
        return self._turn()

    def next(self, answer: str) -> tuple[float, Turn] | None:
        """After the current turn's ``answer``: the think time (s) and the next turn, or None."""
        if self._index >= self.turns:
            return None
        self._messages.append({"role": "assistant", "content": answer})
        return self._think_s(), self._turn()


__all__ = ["Conversation", "Message", "Turn", "answer_text"]
