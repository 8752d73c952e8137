"""The hub timer: a timerfd readable at its due time, and the lead that learns the hand-off."""

from __future__ import annotations

import select
import sys
import time

import numpy as np
import pytest

from loadtests.engine.hubtimer import Lead, TimerFd

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")


def _readable(timer: TimerFd, wait_s: float = 0.0) -> bool:
    return bool(select.select([timer.fileno()], [], [], wait_s)[0])


@linux
def test_a_timerfd_is_readable_from_its_due_time_until_cleared():
    timer = TimerFd.open()
    assert timer is not None
    try:
        timer.arm_at(time.perf_counter_ns() + 3_600 * 10**9)  # an hour ahead: not yet
        assert not _readable(timer)
        timer.arm_at(0)  # long past: at once (stop() relies on this)
        assert _readable(timer, 5.0)
        timer.clear()
        assert not _readable(timer)
        timer.clear()  # nothing to consume: no error
        due = time.perf_counter_ns() + 20_000_000
        timer.arm_at(due)
        assert _readable(timer, 5.0)
        assert time.perf_counter_ns() >= due  # readable no sooner than asked, on perf_counter
        # Armed again while readable, for later: not readable until then, without a clear (a
        # tick re-arms without reading the descriptor).
        timer.arm_at(time.perf_counter_ns() + 3_600 * 10**9)
        assert not _readable(timer)
    finally:
        timer.close()


def _learn(lead: Lead, handoff_ns: np.ndarray) -> np.ndarray:
    """Each arrival reaches its send ``handoff`` after a wake-up ``lead`` early: how early."""
    early = np.empty(len(handoff_ns))
    for i, handoff in enumerate(handoff_ns):
        early[i] = lead.ns - handoff
        lead.observe(int(early[i]))
    return early


def test_the_lead_settles_where_one_arrival_in_five_is_early():
    rng = np.random.default_rng(7)
    handoff = rng.lognormal(np.log(100_000), 0.3, 20_000)  # about 100 µs, as on a busy VM
    lead = Lead()
    early = _learn(lead, handoff)
    settled = early[10_000:]
    assert 0.15 < (settled > 0).mean() < 0.25
    assert abs(lead.ns - np.quantile(handoff, 0.2)) < 10_000
    # Those early wait out a few microseconds; the rest are late by less than the hand-off.
    assert np.median(settled[settled > 0]) < 20_000
    assert np.median(-settled) < 0.35 * np.median(handoff)


def test_the_lead_follows_a_faster_machine_down_and_stays_in_bounds():
    lead = Lead(max_ns=150_000)
    _learn(lead, np.full(5_000, 1_000_000 - 1))  # slow hand-offs: capped at the maximum
    assert lead.ns == 150_000
    _learn(lead, np.full(5_000, 5_000))  # a quick one: down to it
    assert 0 <= lead.ns <= 6_000
    before = lead.ns
    lead.observe(-5_000_000)  # waited for the cap or a stall: teaches nothing
    assert lead.ns == before
