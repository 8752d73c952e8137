"""Latency distributions, provider names and the LRU response cache."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from loadtests.stack.agent.upstream import (
    DISTRIBUTIONS,
    ResponseCache,
    latency_sampler,
    provider_for,
)


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_every_distribution_has_the_configured_median(distribution: str) -> None:
    draw = latency_sampler(distribution, 3.0, 0.4, random.Random(7))
    samples_ms = [draw() for _ in range(20_001)]
    assert statistics.median(samples_ms) == pytest.approx(3.0, rel=0.05)
    assert min(samples_ms) >= 0.0


def test_distributions_have_their_shape() -> None:
    uniform = latency_sampler("uniform", 3.0, 0.0, random.Random(1))
    assert max(uniform() for _ in range(5000)) <= 6.0
    lognormal = latency_sampler("lognormal", 3.0, 0.4, random.Random(1))
    logs = [math.log(lognormal()) for _ in range(5000)]
    assert statistics.stdev(logs) == pytest.approx(0.4, rel=0.1)
    constant = latency_sampler("constant", 20.0, 0.4, random.Random(1))
    assert {constant() for _ in range(100)} == {20.0}


def test_same_seed_gives_the_same_draws() -> None:
    first = latency_sampler("exponential", 3.0, 0.0, random.Random(5))
    second = latency_sampler("exponential", 3.0, 0.0, random.Random(5))
    assert [first() for _ in range(10)] == [second() for _ in range(10)]


def test_unknown_distribution_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown distribution 'pareto'"):
        latency_sampler("pareto", 3.0, 0.4, random.Random(1))


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("gpt-4o-mini", "openai"),
        ("claude-3-5-sonnet", "anthropic"),
        ("Llama-3.1-8B-Instruct", "meta"),
        ("mixtral-8x7b", "mistral"),
        ("gemini-1.5-pro", "google"),
        ("anthropic/claude-3-haiku", "anthropic"),
        ("Groq/llama-3", "groq"),
        ("something-else", "openai"),
    ],
)
def test_provider_comes_from_the_model_name(model: str, provider: str) -> None:
    assert provider_for(model) == provider


def test_cache_evicts_the_least_recently_used_entry() -> None:
    cache = ResponseCache(max_entries=2)
    cache.put("a", b"A")
    cache.put("b", b"B")
    assert cache.get("a") == b"A"  # "b" is now the least recently used
    cache.put("c", b"C")
    assert len(cache) == 2
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (b"A", b"C")


def test_cache_needs_room_for_one_entry() -> None:
    with pytest.raises(ValueError):
        ResponseCache(max_entries=0)
