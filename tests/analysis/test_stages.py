"""Per-stage measurements: settling left out, exact figures, each stage judged on its targets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.contract.targets import Target
from analysis.shapes.stages import measure_stages, settle_s, stage_targets
from tests.analysis.helpers import T0_US, TEST_TARGETS
from tests.analysis.shapes import constant_us, staged

CRITERIA = stage_targets(None, {m: Target.parse(t) for m, t in TEST_TARGETS.items()})


def test_settle_is_a_fifth_of_the_stage_at_most_five_seconds():
    assert settle_s(3.0) == pytest.approx(0.6)
    assert settle_s(10.0) == pytest.approx(2.0)
    assert settle_s(120.0) == 5.0


def test_figures_are_exact_and_the_settling_seconds_are_left_out():
    def transient(t_s):  # 100 ms in the first second of the stage, 2 ms after
        return np.where(t_s < 1.0, 100_000, 2_000)

    frame, meta = staged([(10, 100, constant_us(1_000)), (10, 200, transient)])
    first, second = measure_stages(frame, meta, CRITERIA)
    assert (first.requests, second.requests) == (800, 1600)  # after 2 s of settling each
    assert (first.offered_rps, second.offered_rps) == (100.0, 200.0)
    assert (first.achieved_rps, second.achieved_rps) == (100.0, 200.0)
    assert (first.p50_ms, first.p99_ms) == (1.0, 1.0)
    assert second.p99_ms == 2.0  # the 100 ms transient fell in the settling seconds
    assert first.met and second.met and first.missed == ()


def test_a_stage_that_misses_a_target_names_it_with_the_value():
    frame, meta = staged(
        [(10, 100, constant_us(1_000)), (10, 100, constant_us(300_000))],
        errors=lambda t_s: (t_s >= 10) & (np.arange(len(t_s)) % 50 == 0),
    )
    first, second = measure_stages(frame, meta, CRITERIA)
    assert first.met is True
    assert second.met is False and second.error_percent == pytest.approx(2.0)
    assert "P99 300.000 ms (target < 200)" in second.missed
    assert "P50 300.000 ms (target < 10)" in second.missed
    assert "error rate 2.000 % (target < 1)" in second.missed


def test_a_stage_without_requests_is_not_judged():
    frame, meta = staged([(10, 100, constant_us(1_000))])
    meta.append({"start_us": meta[0]["end_us"], "end_us": meta[0]["end_us"] + 10**7,
                 "start_rps": 100.0, "end_rps": 100.0, "judge": True})  # fmt: skip
    _, empty = measure_stages(frame, meta, CRITERIA)
    assert empty.requests == 0 and empty.met is None and math.isnan(empty.p99_ms)
    assert "no requests" in empty.reason


def test_a_ramp_offers_its_mean_scheduled_rate_over_the_measured_part():
    frame, _ = staged([(10, 50, constant_us(1_000))])
    ramp = [{"start_us": T0_US, "end_us": T0_US + 10**7, "start_rps": 0.0, "end_rps": 100.0}]
    (stage,) = measure_stages(frame, ramp, CRITERIA)
    assert stage.offered_rps == pytest.approx(60.0)  # mean of 20..100 req/s over 2..10 s
    assert not stage.constant


def test_stage_targets_override_the_targets_and_are_checked():
    targets = {m: Target.parse(t) for m, t in TEST_TARGETS.items()}
    assert set(stage_targets({}, targets)) == {
        "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate"
    }  # fmt: skip
    assert stage_targets({"latency_p99_ms": "< 5"}, targets) == {
        "latency_p99_ms": Target.parse("< 5")
    }
    with pytest.raises(ValueError, match="stage_targets.memory_bytes"):
        stage_targets({"memory_bytes": "< 1GB"}, targets)
    with pytest.raises(ValueError, match="stage_targets.latency_p99_ms"):
        stage_targets({"latency_p99_ms": "fast"}, targets)


def test_without_targets_a_stage_is_measured_but_not_judged():
    frame, meta = staged([(10, 100, constant_us(1_000))])
    (stage,) = measure_stages(frame, meta, {})
    assert stage.requests == 800 and stage.met is None and "no latency" in stage.reason


def test_a_stage_marked_not_judged_is_measured_only():
    frame, meta = staged([(10, 100, constant_us(300_000))])
    meta[0]["judge"] = False
    (stage,) = measure_stages(frame, meta, CRITERIA)
    assert stage.p99_ms == 300.0 and stage.met is None and "judge: false" in stage.reason
