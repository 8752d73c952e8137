"""The Redis L2 cache: two stand-ins sharing one real redis-server, and the launcher's errors."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import pytest

from loadtests.errors import StackError
from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.agent.openai_api import mark_cached
from loadtests.stack.launchers.launch import start_agent, start_redis
from loadtests.stack.launchers.processes import free_port
from loadtests.stack.launchers.redis_server import redis_ping

CHAT = "/v1/chat/completions"


def _layer(response: httpx.Response) -> tuple[str, str | None]:
    return response.headers["X-Cache-Status"], response.headers.get("X-Cache-Layer")


@pytest.mark.live
def test_a_prompt_cached_by_one_agent_is_an_l2_hit_on_another(tmp_path: Path) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": uuid.uuid4().hex}]}
    with start_redis(tmp_path / "redis") as redis:
        assert redis.url == f"redis://127.0.0.1:{redis.port}"
        config = AgentConfig(redis_url=redis.url, upstream_distribution="constant")
        with (
            start_agent(config, tmp_path / "a") as agent_a,
            start_agent(config, tmp_path / "b") as agent_b,
            httpx.Client(trust_env=False) as client,
        ):
            first = client.post(agent_a.url + CHAT, json=body)
            from_l2 = client.post(agent_b.url + CHAT, json=body)
            from_l1 = client.post(agent_b.url + CHAT, json=body)
            metrics = client.get(agent_b.metrics_url).text
        assert _layer(first) == ("MISS", None)
        assert _layer(from_l2) == ("HIT", "L2")
        assert _layer(from_l1) == ("HIT", "L1")
        # The same answer; a hit from either layer reports its prompt tokens as cached.
        assert from_l2.content == from_l1.content == mark_cached(first.content) != first.content
        assert "edge_agent_cache_l2_hits_total 1.0" in metrics
        pid = redis.pid
    assert not redis.running()
    assert not redis_ping("127.0.0.1", redis.port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.live
def test_an_agent_whose_redis_is_unreachable_fails_to_start(tmp_path: Path) -> None:
    config = AgentConfig(redis_url=f"redis://127.0.0.1:{free_port()}")
    with pytest.raises(StackError, match="cannot reach the L2 cache"):
        start_agent(config, tmp_path)


def test_missing_redis_binary_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="apt-get install redis-server"):
        start_redis(tmp_path, binary="no-such-redis-server")
