"""Multi-turn sessions without servers: the spec, the turns' bodies, the answers, the turn timer."""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from pathlib import Path

import pytest
import yaml

from loadtests.config.scenario import RequestKind, load_scenario
from loadtests.config.sessionspec import ThinkTime, TurnCount
from loadtests.engine.conversation import Conversation, answer_text
from loadtests.engine.mix import RequestMix, next_turn
from loadtests.engine.turntimer import TurnQueue, TurnTimer
from loadtests.errors import EXIT_CANNOT_JUDGE, ScenarioError
from loadtests.stack.agent.openai_api import ChatRequest, render_completion, stream_events

CHAT = "/v1/chat/completions"


def _kind(session: object, **chat: object) -> dict[str, object]:
    return {
        "kind": "talk",
        "weight": 1,
        "method": "POST",
        "path": CHAT,
        "chat": {"prompt_words": [3, 6], **chat},
        "session": session,
    }


def _write(tmp_path: Path, session: object, **chat: object) -> Path:
    path = tmp_path / "sessions.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "requests": [_kind(session, **chat)]}))
    return path


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        (4, {"distribution": "constant", "min": 4, "max": 4, "mean": None}),
        ({"min": 2, "max": 6}, {"distribution": "uniform", "min": 2, "max": 6, "mean": None}),
        (
            {"distribution": "geometric", "mean": 3, "max": 20},
            {"distribution": "geometric", "min": 1, "max": 20, "mean": 3.0},
        ),
    ],
)
def test_turns_accept_the_short_forms_and_keep_one_canonical_form(written, canonical):
    turns = TurnCount.model_validate(written)
    assert turns.model_dump() == canonical
    assert TurnCount.model_validate(turns.model_dump()) == turns  # the resolved form reads back


@pytest.mark.parametrize(
    ("written", "distribution", "value"),
    [
        ("500ms", "constant", {"mean": 0.5}),
        (2, "constant", {"mean": 2.0}),
        ({"min": "0.5s", "max": "2s"}, "uniform", {"min": 0.5, "max": 2.0}),
        ({"distribution": "exponential", "mean": "1s"}, "exponential", {"mean": 1.0}),
        (
            {"distribution": "lognormal", "median": "1s", "sigma": 0.5},
            "lognormal",
            {"median": 1.0, "sigma": 0.5},
        ),
    ],
)
def test_think_time_accepts_durations_and_distributions(written, distribution, value):
    think = ThinkTime.model_validate(written)
    assert think.distribution == distribution
    assert {k: getattr(think, k) for k in value} == value
    assert ThinkTime.model_validate(think.model_dump()) == think


@pytest.mark.parametrize(
    ("session", "field", "problem"),
    [
        ({"turns": 0}, "requests.0.session.turns", "turns must be 1 to 1000"),
        ({"turns": 2.5}, "requests.0.session.turns", "whole number"),
        ({"turns": {"min": 5, "max": 2}}, "requests.0.session.turns", "min (5) is above max (2)"),
        ({"turns": {"max": 2}}, "requests.0.session.turns", "expected turns as"),
        ({"turns": {"distribution": "geometric"}}, "requests.0.session.turns", "needs its mean"),
        ({"turns": {"min": 1, "max": 5000}}, "requests.0.session.turns.max", "less than or"),
        ({}, "requests.0.session.turns", "Field required"),
        ({"turns": 3, "think_time": -1}, "requests.0.session.think_time", "negative"),
        ({"turns": 3, "think_time": "soon"}, "requests.0.session.think_time", "cannot read"),
        ({"turns": 3, "think_time": "2h"}, "requests.0.session.think_time", "at most 3600"),
        (
            {"turns": 3, "think_time": {"distribution": "lognormal", "median": "1s"}},
            "requests.0.session.think_time",
            "needs sigma",
        ),
        (
            {"turns": 3, "think_time": {"distribution": "exponential", "mean": 1, "max": 3}},
            "requests.0.session.think_time",
            "takes no max",
        ),
        ({"turns": 3, "pace": 1}, "requests.0.session.pace", "Extra inputs"),
    ],
)
def test_bad_session_values_exit_2_naming_the_file_and_field(tmp_path, session, field, problem):
    path = _write(tmp_path, session)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message and f"field '{field}'" in message and problem in message
    assert info.value.exit_code == EXIT_CANNOT_JUDGE


def test_a_session_needs_a_chat_spec(tmp_path):
    path = tmp_path / "s.yaml"
    kind = {"kind": "k", "weight": 1, "method": "POST", "path": CHAT, "session": {"turns": 2}}
    path.write_text(yaml.safe_dump({"name": "s", "requests": [kind]}))
    with pytest.raises(ScenarioError, match="field 'requests.0'.*needs the chat spec"):
        load_scenario(path)


def test_draws_stay_in_range_and_follow_their_mean():
    rng = random.Random(3)
    uniform = TurnCount.model_validate({"min": 2, "max": 6})
    assert {uniform.draw(rng) for _ in range(2000)} == {2, 3, 4, 5, 6}
    geometric = TurnCount.model_validate({"distribution": "geometric", "mean": 4, "max": 30})
    draws = [geometric.draw(rng) for _ in range(20_000)]
    assert min(draws) == 1 and max(draws) <= 30
    assert statistics.mean(draws) == pytest.approx(4, rel=0.05)
    exponential = ThinkTime.model_validate({"distribution": "exponential", "mean": 0.5})
    waits = [exponential.draw_s(rng) for _ in range(20_000)]
    assert min(waits) >= 0 and statistics.mean(waits) == pytest.approx(0.5, rel=0.05)
    lognormal = ThinkTime.model_validate({"distribution": "lognormal", "median": 2, "sigma": 1})
    assert statistics.median(lognormal.draw_s(rng) for _ in range(20_000)) == pytest.approx(
        2, rel=0.08
    )
    assert ThinkTime.model_validate("250ms").draw_s(rng) == 0.25


def _messages(raw: bytes) -> list[dict[str, str]]:
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])["messages"]


def _mix(session: dict[str, object], **chat: object) -> RequestMix:
    kind = RequestKind.model_validate(_kind(session, **chat))
    return RequestMix((kind,), seed=1, worker_index=0)


def test_each_turn_carries_every_turn_before_it_and_the_answers():
    mix = _mix({"turns": 3, "think_time": "2s"}, repeat_rate=0.0)
    first = mix.next()
    assert first.turn is not None and (first.turn.index, first.turn.turns) == (1, 3)
    answers = ["the first answer", 'a second answer, with "quotes" and é']
    turns = [first]
    for answer in answers:
        follows = next_turn(turns[-1], answer)
        assert follows is not None
        think_s, turn = follows
        assert think_s == 2.0
        turns.append(turn)
    bodies = [_messages(t.raw) for t in turns]
    assert [len(b) for b in bodies] == [1, 3, 5]
    for k in (1, 2):  # turn k+1 = turn k's messages, its answer, a new user prompt
        assert bodies[k][: len(bodies[k - 1])] == bodies[k - 1]
        assert bodies[k][-2] == {"role": "assistant", "content": answers[k - 1]}
        assert bodies[k][-1]["role"] == "user" and bodies[k][-1] not in bodies[k - 1]
    sizes = [len(t.raw.split(b"\r\n\r\n", 1)[1]) for t in turns]
    assert sizes[0] < sizes[1] < sizes[2]
    assert [t.turn.index for t in turns if t.turn] == [1, 2, 3]
    assert {t.turn.session for t in turns if t.turn} == {first.turn.session}
    assert next_turn(turns[-1], "the last answer") is None  # the session is over
    assert mix.next().turn.session == first.turn.session + 1  # type: ignore[union-attr]


def test_replayed_scripts_repeat_their_turns_and_fresh_sessions_do_not():
    replay = _mix({"turns": 2}, repeat_rate=1.0, prompt_pool=1)
    fresh = _mix({"turns": 2}, repeat_rate=0.0)

    def session_bodies(mix: RequestMix) -> list[bytes]:
        first = mix.next()
        follows = next_turn(first, "same answer")
        assert follows is not None
        return [first.raw, follows[1].raw]

    assert session_bodies(replay) == session_bodies(replay)  # the cache sees the same keys
    a, b = session_bodies(fresh), session_bodies(fresh)
    assert a[0] != b[0] and a[1] != b[1]


def test_the_answer_is_read_from_plain_and_streamed_completions():
    request = ChatRequest("gpt-4o-mini", [{"role": "user", "content": "hi"}], 64, False)
    body = render_completion(request, completion_tokens=7, completion_id="c1", created_s=1)
    content = json.loads(body)["choices"][0]["message"]["content"]
    assert answer_text(body, stream=False) == content and content.count(" ") == 6
    events = stream_events(body)
    stream = events.role + b"".join(events.tokens) + events.stop + b"data: [DONE]\n\n"
    assert answer_text(stream, stream=True) == content
    escaped = b'data: {"choices":[{"delta":{"content":"a \\"b\\"\\n\\u00e9"}}]}\n\n'
    assert answer_text(escaped, stream=True) == 'a "b"\né'
    for unreadable in (b"", b"not json", b'{"error": {"message": "x"}}', b'{"choices": []}'):
        assert answer_text(unreadable, stream=False) == ""
    assert answer_text(b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n', True) == ""


def test_a_conversation_starts_once():
    conversation = Conversation(7, 1, "m", lambda k: f"p{k}", lambda: 0.0, lambda m, msgs: b"")
    turn = conversation.first()
    assert (turn.session, turn.index, turn.last) == (7, 1, True)
    assert conversation.next("answer") is None
    with pytest.raises(RuntimeError, match="already started"):
        conversation.first()


def test_the_turn_queue_hands_out_due_items_in_time_order():
    queue: TurnQueue[str] = TurnQueue()
    assert queue.wait_us(0) is None
    assert queue.push(300, "c") is True
    assert queue.push(100, "a") is True  # earlier than everything: a sleeper must wake
    assert queue.push(200, "b") is False
    assert queue.push(100, "a2") is False  # same time: after the one added first
    assert queue.wait_us(50) == 50
    assert queue.pop_due(99) == []
    assert queue.pop_due(200) == [(100, "a"), (100, "a2"), (200, "b")]
    assert queue.wait_us(250) == 50 and queue.wait_us(400) == 0
    assert queue.clear() == 1 and len(queue) == 0


class FakeClock:
    """Microseconds that only move when a test moves them."""

    def __init__(self) -> None:
        self.now = 1_000_000

    def now_us(self) -> int:
        return self.now


def test_the_turn_timer_delivers_at_due_times_wakes_for_earlier_ones_and_cuts_at_close():
    clock = FakeClock()
    delivered: list[tuple[int, str]] = []
    arrived = threading.Event()

    def deliver(due_us: int, item: str) -> None:
        delivered.append((due_us, item))
        arrived.set()

    timer: TurnTimer[str] = TurnTimer(clock.now_us, deliver)
    timer.start()
    assert timer.add(clock.now + 10_000_000, "late")  # 10 s of fake time: it waits
    assert timer.add(clock.now + 5_000, "soon")
    time.sleep(0.1)  # the thread looked (it wakes for the earlier item) and nothing was due
    assert delivered == []
    clock.now += 5_000  # "soon" is due; a wake-up makes the thread look again
    timer.add(clock.now + 20_000_000, "later still")
    assert arrived.wait(30), "the due item was never delivered"
    assert delivered == [(1_005_000, "soon")]
    timer.close()
    assert timer.cut == 2  # "late" and "later still" never leave
    assert timer.add(clock.now, "after the end") is False and timer.cut == 3
    clock.now += 30_000_000
    time.sleep(0.1)
    assert delivered == [(1_005_000, "soon")]
