"""The master's view of its workers, on a stand-in for Locust's runner state."""

from __future__ import annotations

from dataclasses import dataclass

from loadtests.engine.roster import STATE_MISSING, Roster

STATE_RUNNING = "running"


@dataclass
class _Client:
    id: str
    state: str = STATE_RUNNING


class _Clients(dict):
    @property
    def ready(self) -> list[_Client]:
        return list(self.values())


class _Runner:
    def __init__(self, *ids: str) -> None:
        self.clients = _Clients({i: _Client(i) for i in ids})

    def get_worker_index(self, client_id: str) -> int:
        return sorted(self.clients).index(client_id)


def test_a_worker_is_lost_once_it_goes_missing_or_leaves_before_reporting():
    runner = _Runner("a", "b", "c")
    roster = Roster(runner, joined={"a": 0, "b": 1, "c": 2})
    assert roster.newly_lost(reported=set()) == []
    runner.clients["b"].state = STATE_MISSING
    del runner.clients["c"]  # quit, or removed after missing heartbeats for a minute
    assert roster.newly_lost(reported=set()) == [(1, "b"), (2, "c")]
    assert roster.newly_lost(reported=set()) == []  # each is reported once
    assert roster.lost == {1: "b", 2: "c"}


def test_a_worker_that_reported_its_schedule_done_is_never_lost():
    runner = _Runner("a", "b")
    roster = Roster(runner, joined={"a": 0, "b": 1})
    runner.clients.clear()  # both quit after the run, as the master told them to
    assert roster.newly_lost(reported={0, 1}) == []
