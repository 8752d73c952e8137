"""The stand-in's simulated upstream: provider latency distributions and the bounded LRU cache."""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal, get_args

__all__ = ["DISTRIBUTIONS", "Distribution", "ResponseCache", "latency_sampler", "provider_for"]

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
