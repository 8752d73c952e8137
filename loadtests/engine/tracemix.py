"""A trace's requests: each row a chat completion with a prompt of its input length in words.

Tokens-per-word rule: one word is one token. A row's prompt is exactly ``input_length``
space-separated words and its ``max_tokens`` is ``output_length``. The prompt is cut into blocks of
``block_tokens`` words, one per entry of the row's ``hash_ids``: block h always starts with the word
``b<h>`` and goes on with the same words, so rows whose hash_ids agree on their first k entries
share their first k blocks word for word (up to the shorter prompt). Words past the blocks (all of
them without hash_ids) are unique to the row: they start with ``r<row>``. The same row in a later
pass of a loop sends the same prompt.
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Callable, Iterator

import numpy as np

from loadtests.config.replay import Timeline
from loadtests.config.scenario import RequestKind
from loadtests.config.tracefiles import Trace
from loadtests.engine.client import build_request
from loadtests.engine.mix import JSON_HEADERS, PROMPT_WORDS, PlannedRequest

_FILLER = random.Random(20).choices(PROMPT_WORDS, k=8192)
# Requests built before the load: at most this many bytes, and only until shortly before the
# schedule starts; the rest are built as they are due, tens of µs each.
PREBUILD_BYTES = 64 * 2**20


@functools.lru_cache(maxsize=8192)
def _run_of_words(tag: str, count: int) -> str:
    """``count`` words: ``tag`` then filler words that depend only on the tag."""
    if count <= 0:
        return ""
    start = sum(map(ord, tag)) * 131 % len(_FILLER)
    needed = count - 1
    words = (_FILLER[start:] + _FILLER[:start]) * (needed // len(_FILLER) + 1)
    return " ".join([tag, *words[:needed]])


def synthesise_prompt(trace: Trace, row: int, block_tokens: int) -> str:
    """Row ``row``'s prompt: ``input_length`` words, blocks shared by hash_ids (module docs)."""
    length = int(trace.input_tokens[row])
    parts: list[str] = []
    covered = 0
    for block in trace.blocks(row):
        if covered >= length:
            break
        count = min(block_tokens, length - covered)
        parts.append(_run_of_words(f"b{block}", count))
        covered += count
    if covered < length:
        parts.append(_run_of_words(f"r{row}", length - covered))
    return " ".join(parts)


class TraceMix:
    """The requests of one worker's arrivals, in order; built for ``prebuild_s`` before the load
    (at most ``prebuild_bytes``), the rest as they are due."""

    def __init__(
        self,
        timeline: Timeline,
        kind: RequestKind,
        block_tokens: int,
        rows: np.ndarray,
        encode: Callable[[bytes], bytes],
        prebuild_s: float = 0.0,
        prebuild_bytes: int = PREBUILD_BYTES,
    ) -> None:
        assert kind.chat is not None
        self._trace = timeline.trace
        self._kind = kind
        self._block_tokens = block_tokens
        self._rows = rows
        self._encode = encode
        self._models = list(kind.chat.models)
        self._weights = [kind.chat.models[m] for m in self._models]
        self._stream = kind.chat.stream
        self._built: list[PlannedRequest | None] = []
        size, deadline = 0, time.monotonic() + prebuild_s
        for index in range(len(rows)):
            if size >= prebuild_bytes or time.monotonic() > deadline:
                break
            request = self.build(index)
            size += len(request.raw)
            self._built.append(request)

    @property
    def prebuilt(self) -> int:
        """How many arrivals' requests were built before the load."""
        return len(self._built)

    def build(self, index: int) -> PlannedRequest:
        """The request of this worker's arrival ``index`` (trace row ``rows[index]``)."""
        row = int(self._rows[index])
        model = self._models[0]
        if len(self._models) > 1:  # the same model for a row on every worker and every pass
            model = random.Random(row).choices(self._models, self._weights)[0]
        payload = {
            "model": model,
            "messages": [
                {"role": "user", "content": synthesise_prompt(self._trace, row, self._block_tokens)}
            ],
            "max_tokens": int(self._trace.output_tokens[row]),
            "stream": self._stream,
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        return PlannedRequest(
            self._kind.kind, self._kind.method, model, self._encode(body), self._stream
        )

    @property
    def has_sessions(self) -> bool:
        """A trace's rows are single requests, never multi-turn sessions."""
        return False

    def request_for(self, index: int) -> PlannedRequest:
        """Arrival ``index``'s request; one built before the load is handed out once, then freed."""
        if index < len(self._built):
            request = self._built[index]
            self._built[index] = None
            if request is not None:
                return request
        return self.build(index)


class TraceSchedule:
    """One worker's share of a replay's arrivals, as the generator reads a schedule."""

    def __init__(self, offsets_us: np.ndarray) -> None:
        self._offsets = offsets_us

    @property
    def duration_s(self) -> float:
        """Until this worker's last arrival (a replay has no planned time beyond its rows)."""
        return float(self._offsets[-1]) / 1e6 if len(self._offsets) else 0.0

    def offsets_us(self) -> Iterator[int]:
        # Python ints in one go: the timer thread then only iterates a list.
        return iter(self._offsets.tolist())


def trace_encoder(
    kind: RequestKind, host_header: str, headers: dict[str, str]
) -> Callable[[bytes], bytes]:
    """Wrap a chat body in the request bytes of ``kind`` (path, JSON and the scenario's headers)."""
    all_headers = {**JSON_HEADERS, **headers}

    def encode(body: bytes) -> bytes:
        return build_request(kind.method, kind.path, host_header, body, all_headers)

    return encode


__all__ = ["PREBUILD_BYTES", "TraceMix", "TraceSchedule", "synthesise_prompt", "trace_encoder"]
