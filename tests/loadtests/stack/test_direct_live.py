"""The stand-in agent's direct listener over real HTTP: the upstream, with no gateway in front."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from loadtests.stack.launchers.launch import AgentProcess
from tests.loadtests.stack.conftest import UPSTREAM_MS

pytestmark = pytest.mark.live

CHAT = "/v1/chat/completions"


def test_the_direct_listener_answers_like_the_upstream_and_the_api_like_the_gateway(
    agent: AgentProcess,
) -> None:
    assert agent.direct_url is not None and agent.direct_url != agent.url
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": uuid.uuid4().hex}]}
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        assert client.get(f"{agent.direct_url}/health").status_code == 200
        direct = client.post(f"{agent.direct_url}{CHAT}", json=body)
        gateway = client.post(f"{agent.url}{CHAT}", json=body)
    assert direct.status_code == gateway.status_code == 200
    completion, proxied = json.loads(direct.content), json.loads(gateway.content)
    assert completion["object"] == proxied["object"] == "chat.completion"
    assert completion["usage"] == proxied["usage"]
    assert "X-Cache-Status" not in direct.headers  # no cache in front of the upstream
    assert gateway.headers["X-Cache-Status"] == "MISS"
    # It waited for the upstream: a lower bound only, a busy machine can only add to it.
    assert direct.elapsed.total_seconds() * 1000 >= UPSTREAM_MS
