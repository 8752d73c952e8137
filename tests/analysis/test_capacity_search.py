"""The capacity search against a simulated target: a rate -> verdict function with noise."""

from __future__ import annotations

import math
import random

import pytest

from analysis.capacity.search import (
    AT_LEAST,
    BELOW,
    CANNOT_JUDGE,
    FAIL,
    FOUND,
    PASS,
    UNJUDGED,
    SearchSettings,
    Trial,
    combine,
    search,
)

PROBE_S = 15.0


class Simulated:
    """A target with a true capacity: margin (capacity − rate)/capacity plus Gaussian noise.

    Each trial advances a fake clock by ``probe_s``; ``rates`` records every trial's rate.
    """

    def __init__(self, capacity_rps: float, noise: float = 0.0, seed: int = 1) -> None:
        self.capacity_rps = capacity_rps
        self.noise = noise
        self.rng = random.Random(seed)
        self.now_s = 0.0
        self.rates: list[float] = []

    def clock_s(self) -> float:
        return self.now_s

    def probe(self, rate: float) -> Trial:
        self.now_s += PROBE_S
        self.rates.append(rate)
        margin = (self.capacity_rps - rate) / self.capacity_rps + self.rng.gauss(0, self.noise)
        return Trial(PASS if margin >= 0 else FAIL, margin)  # the capacity itself passes


def _run(target: Simulated, **settings: float) -> object:
    values = {"start_rps": 100.0, "min_rps": 10.0, "max_rps": 10_000.0, "time_budget_s": 3600.0}
    values.update(settings)
    return search(SearchSettings(**values), target.probe, target.clock_s)  # type: ignore[arg-type]


@pytest.mark.parametrize("start_rps", [50.0, 100.0, 400.0, 1000.0, 5000.0])
def test_finds_the_capacity_within_precision_from_below_and_above(start_rps):
    target = Simulated(capacity_rps=400.0)
    result = _run(target, start_rps=start_rps, precision=0.05)
    assert result.status == FOUND
    assert result.low_rps <= 400.0 < result.high_rps  # the interval holds the truth
    assert result.high_rps - result.low_rps <= 0.05 * result.low_rps
    assert result.capacity_rps == result.low_rps
    assert "precision reached" in result.stopped
    assert result.failing is not None and result.failing.rate_rps == result.high_rps


def test_brackets_by_doubling_from_below_and_halving_from_above():
    below = Simulated(capacity_rps=400.0)
    _run(below, start_rps=50.0)
    assert below.rates[:4] == [50.0, 100.0, 200.0, 400.0]  # doubling until a fail
    above = Simulated(capacity_rps=400.0)
    _run(above, start_rps=3000.0)
    assert above.rates[:4] == [3000.0, 1500.0, 750.0, 375.0]  # halving until a pass


def test_finds_noisy_capacity_within_ten_percent_and_repeats_close_calls():
    hits = 0
    for seed in range(20):
        target = Simulated(capacity_rps=400.0, noise=0.03, seed=seed)
        result = _run(target, start_rps=250.0, close_margin=0.1, max_trials=3)
        hits += abs(result.capacity_rps - 400.0) <= 40.0
        # Every rate whose first trial was close ran again, and far rates ran once.
        for probe in result.probes:
            first = probe.trials[0]
            assert (len(probe.trials) > 1) == (abs(first.margin) < 0.1)
    assert hits >= 19


def test_a_close_call_repeats_and_a_tie_fails():
    flips = iter([0.01, -0.01, 0.01, -0.01])

    def probe(rate: float) -> Trial:
        margin = next(flips) if rate == 100.0 else (1.0 if rate < 100 else -1.0)
        return Trial(PASS if margin > 0 else FAIL, margin)

    settings = SearchSettings(100.0, 10.0, 1000.0, max_trials=2, time_budget_s=1e9)
    result = search(settings, probe, clock_s=lambda: 0.0)
    first = result.probes[0]
    assert first.rate_rps == 100.0 and len(first.trials) == 2
    assert first.status == FAIL  # one pass, one fail: the conservative side
    assert result.probes[1].rate_rps == 50.0  # so the search halves from it


def test_respects_the_time_budget():
    target = Simulated(capacity_rps=400.0)
    result = _run(target, start_rps=100.0, precision=0.001, time_budget_s=100.0)
    assert target.now_s <= 100.0  # no probe ran past the budget
    assert len(target.rates) == 6  # 100 s / 15 s a probe
    assert result.stopped.startswith("time budget")
    assert result.status == FOUND and result.low_rps <= 400.0 < result.high_rps


def test_a_budget_too_short_to_bracket_reports_a_bound():
    target = Simulated(capacity_rps=400.0)
    result = _run(target, start_rps=50.0, time_budget_s=40.0)
    assert target.rates == [50.0, 100.0]
    assert result.status == AT_LEAST and result.capacity_rps == 100.0
    assert math.isinf(result.high_rps)


def test_a_target_passing_at_every_rate_is_a_lower_bound():
    target = Simulated(capacity_rps=1e9)
    result = _run(target, start_rps=100.0, max_rps=1000.0)
    assert result.status == AT_LEAST
    assert result.capacity_rps == 1000.0 and math.isinf(result.high_rps)
    assert target.rates == [100.0, 200.0, 400.0, 800.0, 1000.0]
    assert "1000 req/s, passed" in result.stopped
    assert result.failing is None


def test_a_target_failing_at_every_rate_is_below_the_lowest():
    target = Simulated(capacity_rps=1.0)
    result = _run(target, start_rps=100.0, min_rps=20.0)
    assert result.status == BELOW
    assert result.capacity_rps == 0.0 and result.high_rps == 20.0
    assert target.rates == [100.0, 50.0, 25.0, 20.0]
    assert "20 req/s, did not pass" in result.stopped


def test_an_unjudged_upper_end_cannot_judge_and_a_fail_below_it_replaces_it():
    def harness_limited(rate: float) -> Trial:  # the generator cannot send above 300 req/s
        if rate > 300:
            return Trial(UNJUDGED, reasons=("the generator fell behind",))
        return Trial(PASS, 0.5)

    settings = SearchSettings(100.0, 10.0, 1000.0, time_budget_s=1e9)
    result = search(settings, harness_limited, clock_s=lambda: 0.0)
    assert result.status == CANNOT_JUDGE
    assert 300.0 - 0.05 * 300 <= result.capacity_rps <= 300.0 < result.high_rps
    unjudged = [p for p in result.probes if p.status == UNJUDGED]
    assert unjudged and all(len(p.trials) == 3 for p in unjudged)  # each retried

    def failing_above_200(rate: float) -> Trial:
        if rate > 300:
            return Trial(UNJUDGED)
        return Trial(PASS, 0.5) if rate <= 200 else Trial(FAIL, -0.5)

    result = search(settings, failing_above_200, clock_s=lambda: 0.0)
    assert result.status == FOUND and result.low_rps == 200.0


def test_combine_counts_judged_trials():
    assert combine([Trial(PASS, 0.2), Trial(FAIL, -0.01), Trial(PASS, 0.03)]) == PASS
    assert combine([Trial(PASS, 0.2), Trial(UNJUDGED)]) == PASS
    assert combine([Trial(UNJUDGED), Trial(UNJUDGED)]) == UNJUDGED


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"start_rps": 5.0, "min_rps": 10.0, "max_rps": 100.0}, "0 < min (10) <= start (5)"),
        ({"start_rps": 50.0, "min_rps": 10.0, "max_rps": 100.0, "precision": 0}, "precision"),
        ({"start_rps": 50.0, "min_rps": 10.0, "max_rps": 100.0, "time_budget_s": 0}, "budget"),
    ],
)
def test_settings_refuse_what_cannot_search(values, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        SearchSettings(**values)
