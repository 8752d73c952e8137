"""Multi-turn sessions through the real generator and the stand-in on loopback (three sessions).

The generator runs in a subprocess (gevent patches its interpreter, as Locust does): three
sessions of three streamed turns start 0.5 s apart and replay one script, so the first plays
every turn cold and the others find each turn cached.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.agent.openai_api import ChatRequest, render_completion
from loadtests.stack.launchers.launch import AgentProcess, start_agent
from tests.loadtests.conftest import HANG_S, REPO

pytestmark = pytest.mark.live

TOKENS = 4
THINK_US = 200_000
SCENARIO = {
    "name": "sessions-live",
    "load": {  # session starts at 0, 0.5 and 1 s; the schedule runs on to 2.5 s
        "stages": [{"duration": 1.5, "rate_rps": 2}, {"duration": 1.0, "rate_rps": 0}],
        "arrival": "uniform",
    },
    "requests": [
        {
            "kind": "talk",
            "weight": 1,
            "method": "POST",
            "path": "/v1/chat/completions",
            "chat": {"prompt_pool": 1, "repeat_rate": 1.0, "prompt_words": [3, 6], "stream": True},
            "session": {"turns": 3, "think_time": f"{THINK_US // 1000}ms"},
        }
    ],
}
DRIVER = r"""
import gevent.monkey

gevent.monkey.patch_all()
import json
import sys

from loadtests.config.scenario import Scenario
from loadtests.engine.clocksync import Clock
from loadtests.engine.generator import OpenModelGenerator
from loadtests.engine.mix import RequestMix
from loadtests.engine.plan import build_schedule

scenario = Scenario.model_validate(json.loads(sys.argv[2]))
clock = Clock()
rows, bodies = {}, []


def on_rows(columns):
    for name, values in columns.items():
        rows.setdefault(name, []).extend(values)


def on_request(req, response_ms, nbytes, error, exc):
    bodies.append([req.turn.session, req.turn.index, req.raw.split(b"\r\n\r\n", 1)[1].decode()])


generator = OpenModelGenerator(
    base_url=sys.argv[1],
    schedule=build_schedule(scenario),
    start_epoch_us=clock.now_us() + 200_000,
    mix=RequestMix(scenario.requests, 1, 0),
    max_concurrency=10,
    timeout_s=30.0,
    worker_index=0,
    on_rows=on_rows,
    on_request=on_request,
    clock=clock,
)
stats = generator.run()
print(json.dumps({"rows": rows, "bodies": bodies, "stats": stats.as_dict()}))
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    config = AgentConfig(
        upstream_distribution="constant",
        upstream_median_ms=5.0,
        completion_tokens=TOKENS,
        stream_tokens_per_s=1000.0,
    )
    with start_agent(config, tmp_path_factory.mktemp("sessions-agent")) as process:
        yield process


def test_sessions_carry_the_real_answers_and_later_turns_leave_after_think_time(agent):
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, agent.url, json.dumps(SCENARIO)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    rows = [
        dict(zip(out["rows"], values, strict=True))
        for values in zip(*out["rows"].values(), strict=True)
    ]
    assert [r["error"] for r in rows] == [""] * 9, rows
    turns = {(r["session"], r["turn"]): r for r in rows}
    assert sorted(turns) == [(s, k) for s in (1, 2, 3) for k in (1, 2, 3)]
    assert {r["session_turns"] for r in rows} == {3}
    for s in (1, 2, 3):
        for k in (1, 2):  # closed within a session: the next turn is due think time after
            before, after = turns[(s, k)], turns[(s, k + 1)]
            assert after["intended_us"] == before["done_us"] + THINK_US
            assert after["sent_us"] >= after["intended_us"]
        first = turns[(s, 1)]["first_token_us"]
        assert first > turns[(s, 1)]["intended_us"] and turns[(s, 3)]["tokens"] == TOKENS

    # The stand-in's answer (the real text, read from the stream) is in the next turn's messages.
    request = ChatRequest("m", [], None, False)
    completion = render_completion(request, completion_tokens=TOKENS, completion_id="", created_s=0)
    answer = json.loads(completion)["choices"][0]["message"]["content"]
    messages = {(s, k): json.loads(body)["messages"] for s, k, body in out["bodies"]}
    for s in (1, 2, 3):
        for k in (1, 2):
            before, after = messages[(s, k)], messages[(s, k + 1)]
            assert after[: len(before)] == before
            assert after[len(before)] == {"role": "assistant", "content": answer}
            assert after[-1]["role"] == "user" and len(after) == len(before) + 2
        sizes = [turns[(s, k)]["request_bytes"] for k in (1, 2, 3)]
        assert sizes[0] < sizes[1] < sizes[2]
    # One script replayed: the first session plays it cold, the others hit at every turn.
    assert [turns[(1, k)]["cache"] for k in (1, 2, 3)] == ["MISS"] * 3
    assert [turns[(s, k)]["cache"] for s in (2, 3) for k in (1, 2, 3)] == ["HIT"] * 6
    assert out["stats"]["scheduled"] == out["stats"]["sent"] == 9
