"""The request mix: which request each arrival sends (kind, method, path, body, model)."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from loadtests.config.scenario import ChatSpec, RequestKind, Scenario
from loadtests.config.sessionspec import SessionSpec
from loadtests.engine.client import build_request
from loadtests.engine.conversation import Conversation, Message, Turn
from loadtests.errors import ScenarioError

PROMPT_WORDS = (
    "latency cache proxy token model route provider edge stream budget metric trace span "
    "summarise explain compare translate list outline draft review the a of for with about "
    "network memory request response retry failover region shard queue batch window policy"
).split()

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class PlannedRequest:
    """One request: what it is (kind, model) and its bytes on the wire."""

    kind: str
    method: str
    model: str
    raw: bytes
    stream: bool = False
    turn: Turn | None = None  # a turn of a multi-turn session (loadtests/engine/conversation.py)


def _prompt(rng: random.Random, words: tuple[int, int], tag: str) -> str:
    n = rng.randint(words[0], max(words[0], words[1]))
    return " ".join(rng.choices(PROMPT_WORDS, k=n)) + f" [{tag}]"  # one call, not n: the hot path


def _chat_body(model: str, prompt: str | list[Message], spec: ChatSpec) -> bytes:
    payload = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt,
        "max_tokens": spec.max_tokens,
        "stream": spec.stream,
    }
    if spec.stream and spec.stream_usage:  # the usage chunk ends the stream
        payload["stream_options"] = {"include_usage": True}
    return json.dumps(payload, separators=(",", ":")).encode()


class _ChatSource:
    """Chat bodies: a pool of repeated prompts (cache hits) and fresh unique ones (misses).

    Prompts carry the kind's name, so two kinds never share a cache entry: each kind's hit
    ratio follows its own repeat rate.
    """

    def __init__(
        self,
        spec: ChatSpec,
        rng: random.Random,
        tag: str,
        encode: Callable[[bytes], bytes],
        kind: str = "",
    ) -> None:
        self._spec = spec
        self._encode = encode
        self._rng = rng
        self._tag = tag
        self._models = list(spec.models)
        self._model_weights = [spec.models[m] for m in self._models]
        # Pool entries are encoded once: the hot path only picks one.
        pool_rng = random.Random(7)  # the same pool on every worker, so caches see repeats
        self._pool = []
        for i in range(spec.prompt_pool):
            model = pool_rng.choices(self._models, self._model_weights)[0]
            prompt = _prompt(pool_rng, spec.prompt_words, f"{kind}-pool-{i}")
            body = _chat_body(model, prompt, spec)
            self._pool.append((model, encode(body)))
        self._fresh = 0
        self.stream = spec.stream

    def next(self) -> tuple[str, bytes]:
        if self._rng.random() < self._spec.repeat_rate:
            return self._pool[self._rng.randrange(len(self._pool))]
        self._fresh += 1
        model = self._rng.choices(self._models, self._model_weights)[0]
        prompt = _prompt(self._rng, self._spec.prompt_words, f"{self._tag}-{self._fresh}")
        return model, self._encode(_chat_body(model, prompt, self._spec))


class _SessionSource:
    """Sessions of a kind: a pool of scripted conversations (replayed: cache hits as far as an
    earlier play of the script went) and fresh ones, by the chat spec's repeat rate.

    A session draws its turns, think times and fresh prompts from a generator of its own, so a
    session is the same whatever the order in which the others' answers arrive.
    """

    def __init__(
        self,
        chat: ChatSpec,
        spec: SessionSpec,
        rng: random.Random,
        tag: str,
        encode: Callable[[bytes], bytes],
        kind: str,
    ) -> None:
        self._chat, self._spec, self._rng, self._tag, self._kind = chat, spec, rng, tag, kind
        self._models = list(chat.models)
        self._weights = [chat.models[m] for m in self._models]
        self._encode = encode
        self._started = 0

    def _body(self, model: str, messages: list[Message]) -> bytes:
        return self._encode(_chat_body(model, messages, self._chat))

    def start(self) -> Turn:
        self._started += 1
        session, words = self._started, self._chat.prompt_words
        own = random.Random(f"{self._tag}-session-{session}")
        turns = self._spec.turns.draw(own)
        if self._rng.random() < self._chat.repeat_rate:
            script = f"{self._kind}-script-{self._rng.randrange(self._chat.prompt_pool)}"
            model = random.Random(script).choices(self._models, self._weights)[0]

            def prompt(k: int) -> str:
                return _prompt(random.Random(f"{script}-{k}"), words, f"{script}-t{k}")
        else:
            model = own.choices(self._models, self._weights)[0]

            def prompt(k: int) -> str:
                return _prompt(own, words, f"{self._tag}-{session}-t{k}")

        think = self._spec.think_time
        return Conversation(
            session, turns, model, prompt, lambda: think.draw_s(own), self._body
        ).first()


def request_headers(scenario: Scenario) -> dict[str, str]:
    """The scenario's headers plus the API key from its environment variable, if it names one."""
    headers = dict(scenario.target.headers)
    name = scenario.target.api_key_env
    if name:
        key = os.environ.get(name)
        if not key:
            raise ScenarioError(
                f"target.api_key_env names the environment variable {name}, which is not set "
                "or empty; export it, or remove api_key_env from the scenario"
            )
        headers["Authorization"] = f"Bearer {key}"
    return headers


class RequestMix:
    """Draws the next request by the kinds' weights; deterministic for a seed and worker."""

    def __init__(
        self,
        kinds: tuple[RequestKind, ...],
        seed: int,
        worker_index: int,
        host_header: str = "localhost",
        headers: dict[str, str] | None = None,
    ) -> None:
        self._rng = random.Random(f"{seed}-{worker_index}")
        self._kinds = list(kinds)
        total = sum(k.weight for k in kinds)
        self._cum = []
        acc = 0.0
        for k in kinds:
            acc += k.weight / total
            self._cum.append(acc)
        extra = headers or {}
        self._chat: dict[str, _ChatSource] = {}
        self._plain: dict[str, PlannedRequest] = {}
        self._sessions: dict[str, _SessionSource] = {}
        for k in kinds:
            if k.chat is None:
                raw = build_request(k.method, k.path, host_header, b"", extra)
                self._plain[k.kind] = PlannedRequest(k.kind, k.method, "", raw)
                continue
            chat_headers = {**JSON_HEADERS, **extra}

            def encode(body: bytes, k: RequestKind = k, h: dict[str, str] = chat_headers) -> bytes:
                return build_request(k.method, k.path, host_header, body, h)

            tag = f"{k.kind}-w{worker_index}-s{seed}"
            if k.session is not None:
                self._sessions[k.kind] = _SessionSource(
                    k.chat, k.session, self._rng, tag, encode, k.kind
                )
                continue
            self._chat[k.kind] = _ChatSource(k.chat, self._rng, tag, encode, k.kind)

    @property
    def has_sessions(self) -> bool:
        """Whether a kind of the mix is a multi-turn session."""
        return bool(self._sessions)

    def request_for(self, index: int) -> PlannedRequest:
        """The request of arrival ``index``: a fresh draw (the synthetic mix needs no index)."""
        return self.next()

    def next(self) -> PlannedRequest:
        r = self._rng.random()
        kind = self._kinds[-1]
        for k, edge in zip(self._kinds, self._cum, strict=True):
            if r < edge:
                kind = k
                break
        session = self._sessions.get(kind.kind)
        if session is not None:
            turn = session.start()
            stream = kind.chat is not None and kind.chat.stream
            return PlannedRequest(kind.kind, kind.method, turn.model, turn.raw, stream, turn)
        source = self._chat.get(kind.kind)
        if source is None:
            return self._plain[kind.kind]
        model, raw = source.next()
        return PlannedRequest(kind.kind, kind.method, model, raw, source.stream)


def next_turn(req: PlannedRequest, answer: str) -> tuple[float, PlannedRequest] | None:
    """After a session turn's ``answer``: the think time (s) and the next turn; None after the
    last turn or for a request that is no turn."""
    if req.turn is None:
        return None
    follows = req.turn.conversation.next(answer)
    if follows is None:
        return None
    think_s, turn = follows
    return think_s, replace(req, model=turn.model, raw=turn.raw, turn=turn)


class Mix(Protocol):
    """What the generator asks of a mix: the request of each arrival, by its index."""

    @property
    def has_sessions(self) -> bool: ...

    def request_for(self, index: int) -> PlannedRequest: ...


__all__ = ["JSON_HEADERS", "PROMPT_WORDS", "Mix", "PlannedRequest", "RequestMix", "next_turn"]
