"""Overhead statistics: interval coverage on known shifts, budget judgements, pairing."""

import numpy as np
import pandas as pd
import pytest

from analysis.overhead.stats import (
    EXCEEDS,
    INCONCLUSIVE,
    NO_DATA,
    WITHIN,
    deltas_from_runs,
    judge_budget,
    overall_status,
    paired_delta,
)


def test_intervals_cover_a_known_shift_about_95_percent_of_the_time():
    shift, trials, hits = 3.0, 400, 0
    rng = np.random.default_rng(42)
    for trial in range(trials):
        run_noise = rng.normal(0, 1.0, size=5)  # shared by both runs of a pair (same period)
        baseline = 10 + run_noise + rng.normal(0, 0.8, size=5)
        treatment = 10 + shift + run_noise + rng.normal(0, 0.8, size=5)
        delta = paired_delta("p95", baseline, treatment, seed=trial)
        hits += delta.low <= shift <= delta.high
    coverage = hits / trials
    assert 0.91 <= coverage <= 0.985, coverage


def test_heavy_tailed_per_run_noise_still_covers_reasonably():
    rng = np.random.default_rng(7)
    hits = 0
    for trial in range(300):
        noise = rng.standard_t(4, size=(2, 8))
        delta = paired_delta("p95", 20 + noise[0], 22 + noise[1], seed=trial)
        hits += delta.low <= 2 <= delta.high
    assert hits / 300 >= 0.9


def test_judgements():
    within = paired_delta("p95", np.array([10, 11, 10, 12, 11.0]), np.array([13, 14, 13, 15, 14.0]))
    assert within.mean == pytest.approx(3.0)
    assert judge_budget("p95", 5.0, within).status == WITHIN
    exceeds = paired_delta("p95", np.zeros(5), np.array([8.1, 7.9, 8.0, 8.2, 7.8]))
    verdict = judge_budget("p95", 5.0, exceeds)
    assert verdict.status == EXCEEDS and "lower end" in verdict.reason
    wobbly = paired_delta("p95", np.zeros(5), np.array([1.0, 9.0, 3.0, 7.0, 5.5]))
    verdict = judge_budget("p95", 5.0, wobbly)
    assert verdict.status == INCONCLUSIVE
    assert verdict.more_pairs is not None and verdict.more_pairs >= 1
    assert "more pairs" in verdict.reason
    assert judge_budget("p95", 5.0, None).status == NO_DATA


def test_no_shift_interval_contains_zero_and_rank_test_agrees():
    rng = np.random.default_rng(3)
    base = 10 + rng.normal(0, 1, size=7)
    delta = paired_delta("p95", base, base + rng.normal(0, 0.5, size=7))
    assert delta.low <= 0 <= delta.high
    assert delta.wilcoxon_p > 0.05
    clear = paired_delta("p95", base, base + 3 + rng.normal(0, 0.1, size=7))
    assert clear.wilcoxon_p < 0.05


def test_deltas_pair_runs_by_pair_and_skip_incomplete_pairs():
    rows = []
    for pair, (a, b) in enumerate([(10, 13), (11, 14), (12, 15), (9, None)]):
        rows.append({"pair": pair, "variant": "baseline", "metric": "p95_ms", "value": a})
        if b is not None:
            rows.append({"pair": pair, "variant": "treatment", "metric": "p95_ms", "value": b})
    rows.append({"pair": 0, "variant": "baseline", "metric": "memory_bytes", "value": 1.0})
    deltas = deltas_from_runs(pd.DataFrame(rows))
    assert deltas["p95_ms"] is not None and deltas["p95_ms"].pairs == 3
    assert deltas["p95_ms"].deltas == (3.0, 3.0, 3.0)
    assert deltas["memory_bytes"] is None


def test_overall_status():
    delta = paired_delta("x", np.zeros(3), np.ones(3))
    ok = judge_budget("x", 5, delta)
    bad = judge_budget("x", 0.5, delta)
    unsure = judge_budget("x", 1.0, paired_delta("x", np.zeros(4), np.array([0, 2, 0.5, 1.5])))
    assert overall_status([ok], allow_inconclusive=False) == "PASS"
    assert overall_status([ok, bad], allow_inconclusive=True) == "FAIL"
    assert unsure.status == INCONCLUSIVE
    assert overall_status([ok, unsure], allow_inconclusive=False) == "INCOMPLETE"
    assert overall_status([ok, unsure], allow_inconclusive=True) == "PASS"
