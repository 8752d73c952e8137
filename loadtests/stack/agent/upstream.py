"""The stand-in's simulated upstream: provider latency distributions and the bounded LRU cache."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Literal, get_args

from loadtests.stack.agent.openai_api import ChatRequest, render_completion, stream_events

__all__ = [
    "DISTRIBUTIONS",
    "Distribution",
    "ResponseCache",
    "SimulatedUpstream",
    "latency_sampler",
    "provider_for",
]

Distribution = Literal["lognormal", "constant", "uniform", "exponential"]
DISTRIBUTIONS: tuple[str, ...] = get_args(Distribution)

# Checked in order; the first fragment found in the lower-cased model name picks the provider.
_PROVIDER_HINTS = (
    ("claude", "anthropic"),
    ("llama", "meta"),
    ("mixtral", "mistral"),
    ("mistral", "mistral"),
    ("gemini", "google"),
    ("gemma", "google"),
    ("command", "cohere"),
    ("deepseek", "deepseek"),
    ("qwen", "alibaba"),
)
DEFAULT_PROVIDER = "openai"


def latency_sampler(
    distribution: str, median_ms: float, sigma: float, rng: random.Random
) -> Callable[[], float]:
    """Return a function drawing one upstream latency in ms; every distribution has ``median_ms``.

    lognormal: exp(N(ln median, sigma)); constant: median; uniform: U[0, 2*median];
    exponential: rate ln2/median, so half the draws fall below the median.
    """
    if median_ms < 0 or sigma < 0:
        raise ValueError(f"median_ms and sigma must be >= 0, got {median_ms} and {sigma}")
    if distribution == "constant" or median_ms == 0:
        return lambda: median_ms
    if distribution == "lognormal":
        mu = math.log(median_ms)
        return lambda: rng.lognormvariate(mu, sigma)
    if distribution == "uniform":
        high_ms = 2.0 * median_ms
        return lambda: rng.uniform(0.0, high_ms)
    if distribution == "exponential":
        rate_per_ms = math.log(2.0) / median_ms
        return lambda: rng.expovariate(rate_per_ms)
    raise ValueError(
        f"unknown distribution {distribution!r}; use one of {', '.join(DISTRIBUTIONS)}"
    )


def provider_for(model: str) -> str:
    """Name the upstream provider of ``model``: an explicit 'provider/model' prefix wins."""
    prefix, slash, _ = model.partition("/")
    if slash and prefix:
        return prefix.lower()
    name = model.lower()
    for fragment, provider in _PROVIDER_HINTS:
        if fragment in name:
            return provider
    return DEFAULT_PROVIDER


class ResponseCache:
    """Bounded least-recently-used map from a request key to a serialised response body."""

    __slots__ = ("_entries", "_max_entries")

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._max_entries = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> bytes | None:
        """Return the cached body and mark it most recently used, or None."""
        body = self._entries.get(key)
        if body is not None:
            self._entries.move_to_end(key)
        return body

    def put(self, key: str, body: bytes) -> None:
        """Store ``body``, evicting the least recently used entry when full."""
        self._entries[key] = body
        self._entries.move_to_end(key)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class SimulatedUpstream:
    """The provider behind the stand-in: one latency draw per completion, then its body.

    A streamed answer sends its first token once the upstream answers (``first_token_ms``
    instead of the latency draw when set), then one token every 1/``tokens_per_s`` seconds. Both
    the gateway (on a miss) and the direct listener answer through it, so they answer alike.
    """

    def __init__(
        self,
        *,
        latency_ms: Callable[[], float],
        completion_tokens: int,
        tokens_per_s: float,
        first_token_ms: float | None = None,
        honour_max_tokens: bool = False,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock_s: Callable[[], float] = time.perf_counter,
        wall_clock_s: Callable[[], float] = time.time,
    ) -> None:
        self._latency_ms = latency_ms
        self._completion_tokens = completion_tokens
        self._token_interval_s = 1.0 / tokens_per_s
        self._first_token_ms = first_token_ms
        self._honour_max_tokens = honour_max_tokens
        self._sleep = sleep
        self._clock_s = clock_s
        self._wall_clock_s = wall_clock_s
        self._ids = itertools.count(1)

    async def complete(self, chat: ChatRequest, extra_s: float = 0.0) -> tuple[bytes, float]:
        """Wait for the provider (its first token, for a stream); the body and the wait in s.

        ``extra_s`` (the gateway's known cost) is slept in the same wait, since a second timer
        would add its own wake-up slack to the cost, and is not counted as upstream time.
        """
        latency_ms = self._latency_ms()
        if chat.stream and self._first_token_ms is not None:
            latency_ms = self._first_token_ms
        # The wait as measured, not as drawn: timer slack is upstream time, not edge overhead.
        waited_from_s = self._clock_s()
        await self._sleep(latency_ms / 1000.0 + extra_s)
        upstream_s = self._clock_s() - waited_from_s - extra_s
        body = render_completion(
            chat,
            completion_tokens=self._completion_tokens,
            completion_id=f"chatcmpl-standin{next(self._ids):010d}",
            created_s=int(self._wall_clock_s()),
            honour_max_tokens=self._honour_max_tokens,
        )
        return body, upstream_s

    async def stream(self, body: bytes, include_usage: bool = False) -> AsyncGenerator[bytes, None]:
        """The completion's events, tokens paced on a fixed schedule from the first one; its
        usage in a last chunk when the request asked for it (``stream_options.include_usage``)."""
        events = stream_events(body, include_usage)
        yield events.role
        first_s = self._clock_s()
        for index, token in enumerate(events.tokens):
            # Due times from the first token, so sleeping late never accumulates drift.
            delay_s = first_s + index * self._token_interval_s - self._clock_s()
            if delay_s > 0:
                await self._sleep(delay_s)
            yield token
        yield events.stop
        if events.usage:
            yield events.usage
