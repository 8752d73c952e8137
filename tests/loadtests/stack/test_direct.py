"""The direct listener answers as the gateway's upstream does; the gateway cost is its alone."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry

from loadtests.stack.agent.app import EdgeAgentApp
from loadtests.stack.agent.costs import KnownCosts
from loadtests.stack.agent.direct import DirectApp
from loadtests.stack.agent.metrics import AgentMetrics
from loadtests.stack.agent.upstream import ResponseCache, SimulatedUpstream
from loadtests.stack.http.parser import StreamingResponse
from tests.loadtests.stack.test_app import (
    BODY,
    CHAT,
    STREAM_BODY,
    FakeTime,
    _answer,
    _events,
    _request,
)

UPSTREAM_MS = 12.5


def _upstream(fake: FakeTime) -> SimulatedUpstream:
    return SimulatedUpstream(
        latency_ms=lambda: UPSTREAM_MS,
        completion_tokens=4,
        tokens_per_s=50.0,
        sleep=fake.sleep,
        clock_s=fake.clock_s,
        wall_clock_s=lambda: 1_700_000_000.0,
    )


def _direct(fake: FakeTime) -> DirectApp:
    return DirectApp(_upstream(fake))


def _gateway(fake: FakeTime, gateway_ms: float, cache: ResponseCache | None) -> EdgeAgentApp:
    return EdgeAgentApp(
        metrics=AgentMetrics(CollectorRegistry()),
        cache=cache,
        upstream=_upstream(fake),
        costs=KnownCosts(gateway_latency_ms=gateway_ms),
        sleep=fake.sleep,
        clock_s=fake.clock_s,
    )


def test_direct_answers_the_gateways_miss_body_after_one_upstream_wait_and_nothing_else() -> None:
    direct_time, gateway_time = FakeTime(), FakeTime()
    direct = _answer(_direct(direct_time).handle(_request("POST", CHAT, BODY)))
    miss = _answer(_gateway(gateway_time, 0.0, None).handle(_request("POST", CHAT, BODY)))
    assert direct.status == 200 and direct.body == miss.body
    assert json.loads(direct.body)["object"] == "chat.completion"
    assert direct.headers == ()  # no cache status, provider or timing: no gateway answered
    assert direct_time.slept_s == gateway_time.slept_s == [UPSTREAM_MS / 1000]


def test_direct_streams_at_the_upstreams_pace_and_ends_with_done() -> None:
    fake = FakeTime()
    response = _answer(_direct(fake).handle(_request("POST", CHAT, STREAM_BODY)))
    assert isinstance(response, StreamingResponse)
    events = _events(response)
    assert events[-1] == b"data: [DONE]\n\n"
    assert len(events) == 4 + 3  # role, 4 tokens, stop, DONE
    assert fake.slept_s == [UPSTREAM_MS / 1000, 0.02, 0.02, 0.02]


def test_direct_routes_health_and_refuses_what_an_upstream_would() -> None:
    app = _direct(FakeTime())
    assert _answer(app.handle(_request("GET", "/health"))).status == 200
    assert _answer(app.handle(_request("GET", "/nope"))).status == 404
    assert _answer(app.handle(_request("GET", CHAT))).status == 405
    assert _answer(app.handle(_request("POST", CHAT, b"{not json"))).status == 400


def test_the_gateway_cost_rides_in_the_upstream_wait_of_a_miss_and_alone_on_a_hit() -> None:
    fake = FakeTime()
    app = _gateway(fake, 5.0, ResponseCache(10))
    miss = _answer(app.handle(_request("POST", CHAT, BODY)))
    # One timer for upstream and cost (a second would add its own wake-up slack); the header
    # keeps the upstream's time and counts the cost as the gateway's.
    assert fake.slept_s == [0.0175]
    assert dict(miss.headers)["X-Upstream-Time-Ms"] == "12.500"
    assert dict(miss.headers)["X-Edge-Overhead-Ms"] == "5.000"
    hit = _answer(app.handle(_request("POST", CHAT, BODY)))
    assert fake.slept_s == [0.0175, 0.005]
    assert dict(hit.headers)["X-Cache-Status"] == "HIT"
