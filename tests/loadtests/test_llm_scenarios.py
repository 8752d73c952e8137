"""The slo section, the streaming and cache-effectiveness scenarios, and per-kind prompt pools."""

from __future__ import annotations

import json

import pytest

from loadtests.config.scenario import load_scenario
from loadtests.engine.mix import RequestMix
from loadtests.errors import ScenarioError
from tests.loadtests.conftest import REPO

SCENARIOS = REPO / "scenarios"


def _write(tmp_path, **extra):
    path = tmp_path / "s.yaml"
    data = {"name": "s", "requests": [{"kind": "health", "weight": 1, "path": "/health"}], **extra}
    path.write_text(json.dumps(data))
    return path


def test_slo_and_the_new_targets_are_validated(tmp_path):
    targets = {"ttft_p95_ms": "< 50", "tokens_per_s_p50": "> 20", "goodput_percent": "> 99",
               "stream_completion": "> 99.9", "proxy_overhead_p95_ms": "< 5",
               "cache_hit_percent": "40..60", "itl_p99_ms": "< 30"}  # fmt: skip
    scenario = load_scenario(_write(tmp_path, slo={"ttft_ms": 500}, targets=targets))
    assert scenario.slo.ttft_ms == 500 and scenario.slo.response_ms is None
    assert "slo:" in scenario.to_yaml()
    for slo, problem in (({"ttft_ms": 0}, "greater than 0"), ({"e2e_ms": 1}, "e2e_ms")):
        with pytest.raises(ScenarioError, match=problem) as caught:
            load_scenario(_write(tmp_path, slo=slo))
        assert "slo" in str(caught.value)


def test_streaming_and_cache_scenarios_load():
    streaming = load_scenario(SCENARIOS / "streaming.yaml")
    assert any(r.chat and r.chat.stream for r in streaming.requests)
    assert not any(m.startswith("latency_") for m in streaming.targets)  # judged on TTFT/ITL
    assert streaming.slo.ttft_ms and streaming.slo.itl_ms
    cache = load_scenario(SCENARIOS / "cache-effectiveness.yaml")
    rates = [r.chat.repeat_rate for r in cache.requests if r.chat]
    assert rates == sorted(rates) and len(set(rates)) == len(rates) >= 5
    assert "cache_hit_percent" in cache.targets


def test_each_chat_kind_has_a_prompt_pool_of_its_own():
    scenario = load_scenario(SCENARIOS / "cache-effectiveness.yaml")
    always = [r.model_copy(update={"chat": r.chat.model_copy(update={"repeat_rate": 1.0})})
              for r in scenario.requests[:2]]  # fmt: skip
    mix = RequestMix(tuple(always), seed=1, worker_index=0)
    bodies: dict[str, set[bytes]] = {}
    for _ in range(400):
        request = mix.next()
        bodies.setdefault(request.kind, set()).add(request.raw.split(b"\r\n\r\n", 1)[1])
    first, second = bodies.values()
    assert len(first) > 1 and len(second) > 1 and not first & second


def test_streams_ask_for_usage_unless_the_scenario_turns_it_off(tmp_path):
    def body(**chat) -> dict:
        kind = {"kind": "c", "weight": 1, "method": "POST", "path": "/v1/chat/completions",
                "chat": {"prompt_pool": 1, **chat}}  # fmt: skip
        scenario = load_scenario(_write(tmp_path, requests=[kind]))
        raw = RequestMix(scenario.requests, seed=1, worker_index=0).next().raw
        return json.loads(raw.split(b"\r\n\r\n", 1)[1])

    assert body(stream=True)["stream_options"] == {"include_usage": True}
    assert "stream_options" not in body(stream=True, stream_usage=False)
    assert "stream_options" not in body(stream=False)  # a plain answer carries usage anyway
