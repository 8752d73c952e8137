"""The generator's two timers against a real loopback target: the timerfd with its lead, and the
native thread (``EDGEPERF_TIMER=thread``). Both send every arrival and none before its time;
stop() ends a sparse schedule at once, not at the next arrival.

The generator runs in a subprocess (gevent patches its interpreter, as Locust does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from loadtests.engine.hubtimer import TIMER_ENV
from tests.loadtests.conftest import HANG_S, REPO

pytestmark = pytest.mark.live

DRIVER = r"""
import gevent.monkey

gevent.monkey.patch_all()
import json
import sys
import time

import gevent

from loadtests.config.scenario import Scenario
from loadtests.engine.clocksync import Clock
from loadtests.engine.generator import OpenModelGenerator
from loadtests.engine.mix import RequestMix
from loadtests.engine.plan import build_schedule

scenario = Scenario.model_validate(json.loads(sys.argv[2]))
stop_after = int(sys.argv[3])
clock = Clock()
rows = {}
stopped = []


def on_rows(columns):
    for name, values in columns.items():
        rows.setdefault(name, []).extend(values)


def on_request(req, response_ms, nbytes, error, exc):
    if stop_after and len(stopped) == 0 and generator.stats.sent >= stop_after:
        stopped.append(time.monotonic())
        gevent.spawn(generator.stop)


generator = OpenModelGenerator(
    base_url=sys.argv[1],
    schedule=build_schedule(scenario),
    start_epoch_us=clock.now_us() + 200_000,
    mix=RequestMix(scenario.requests, 1, 0),
    max_concurrency=100,
    timeout_s=10.0,
    worker_index=0,
    on_rows=on_rows,
    on_request=on_request,
    clock=clock,
)
stats = generator.run()
ended = time.monotonic()
took = ended - stopped[0] if stopped else None
print(json.dumps({"rows": rows, "stats": stats.as_dict(), "after_stop_s": took}))
"""


def _scenario(rate_rps: float, duration_s: float) -> dict:
    return {
        "name": "timers",
        "load": {"rate_rps": rate_rps, "ramp": "0s", "duration": f"{duration_s}s"},
        "requests": [{"kind": "health", "weight": 1, "path": "/health"}],
    }


def _drive(url: str, scenario: dict, timer: str | None, stop_after: int = 0) -> dict:
    env = {k: v for k, v in os.environ.items() if k != TIMER_ENV}
    if timer is not None:
        env[TIMER_ENV] = timer
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, url, json.dumps(scenario), str(stop_after)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=HANG_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")
@pytest.mark.parametrize(("timer", "expected"), [(None, "timerfd"), ("thread", "thread")])
def test_each_timer_sends_every_arrival_and_none_before_its_time(bench_target, timer, expected):
    out = _drive(bench_target.url, _scenario(400, 1.5), timer)
    stats, rows = out["stats"], out["rows"]
    assert stats["timer"] == expected
    assert stats["scheduled"] == stats["sent"] == len(rows["intended_us"]) == 600
    assert set(rows["error"]) == {""}
    early = [s - i for s, i in zip(rows["sent_us"], rows["intended_us"], strict=True) if s < i]
    assert early == []  # the lead wakes the loop early; the request still leaves on time
    if expected == "timerfd":
        assert 0 < stats["timer_lead_us"] <= 150  # learnt during the run, within its bound
        # Those woken early waited out their due time: never more than the lead each.
        assert 0 < stats["timer_wait_s"] <= 600 * 150e-6
    else:
        assert stats["timer_wait_s"] == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")
def test_stop_ends_a_sparse_schedule_at_once(bench_target):
    # One arrival every 5 s for a minute: stopped after the first, the run ends well before the
    # next arrival would have woken the timer.
    out = _drive(bench_target.url, _scenario(0.2, 60), None, stop_after=1)
    assert out["stats"]["timer"] == "timerfd"
    assert out["stats"]["sent"] == 1
    assert out["after_stop_s"] < 2.5
