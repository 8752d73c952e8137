"""The knee of a stress run: a known knee from a single-server queue, edge cases."""

from __future__ import annotations

import math

import numpy as np

from analysis.contract.targets import Target
from analysis.shapes.knee import find_knee
from analysis.shapes.stages import measure_stages, stage_targets
from tests.analysis.helpers import TEST_TARGETS
from tests.analysis.shapes import constant_us, staged

CRITERIA = stage_targets(None, {m: Target.parse(t) for m, t in TEST_TARGETS.items()})


def _queued(frame, capacity_rps: float, base_us: int = 1_000):
    """Response times of one server with service time 1/capacity in front of a fixed delay."""
    intended = frame["intended_us"].to_numpy()
    service_us = 1e6 / capacity_rps
    free_us = -math.inf
    done = np.empty(len(intended), dtype=np.int64)
    for i, t in enumerate(intended):
        start = max(t, free_us)
        free_us = start + service_us
        done[i] = int(start + base_us)
    return frame.assign(done_us=done)


def test_knee_of_a_known_capacity():
    steps = [(10, rate, constant_us(0)) for rate in (100, 200, 300, 400, 600)]
    frame, meta = staged(steps)
    frame = _queued(frame, capacity_rps=300)
    knee = find_knee(measure_stages(frame, meta, CRITERIA))
    assert knee.knee_rps == 300.0  # exactly at capacity the queue does not grow
    assert knee.first_failing_index == 3 and knee.first_failing_rps == 400.0
    assert any(why.startswith("P50") for why in knee.why)
    assert knee.bounded and "first to miss" in knee.reason


def test_every_step_met_gives_the_highest_step():
    frame, meta = staged([(10, rate, constant_us(1_000)) for rate in (100, 200)])
    knee = find_knee(measure_stages(frame, meta, CRITERIA))
    assert knee.knee_rps == 200.0 and not knee.bounded and "at or above" in knee.reason


def test_lowest_step_failing_gives_zero():
    frame, meta = staged([(10, rate, constant_us(400_000)) for rate in (100, 200)])
    knee = find_knee(measure_stages(frame, meta, CRITERIA))
    assert knee.knee_rps == 0.0 and knee.first_failing_rps == 100.0 and "below" in knee.reason


def test_unknown_without_targets_or_steps():
    frame, meta = staged([(10, rate, constant_us(1_000)) for rate in (100, 200)])
    unjudged = find_knee(measure_stages(frame, meta, {}))
    assert math.isnan(unjudged.knee_rps) and "could not be judged" in unjudged.reason
    frame, meta = staged([(10, 100, constant_us(1_000))])
    single = find_knee(measure_stages(frame, meta, CRITERIA))
    assert math.isnan(single.knee_rps) and single.steps == 1


def test_ramps_and_unjudged_stages_are_not_steps():
    frame, meta = staged([(10, rate, constant_us(1_000)) for rate in (100, 200, 300)])
    meta[0]["start_rps"] = 0.0  # a ramp
    meta[2]["judge"] = False
    knee = find_knee(measure_stages(frame, meta, CRITERIA))
    assert knee.steps == 1 and math.isnan(knee.knee_rps)


def test_a_spike_is_no_stress_run():
    frame, meta = staged([(10, rate, constant_us(1_000)) for rate in (100, 600, 100)])
    knee = find_knee(measure_stages(frame, meta, CRITERIA))
    assert math.isnan(knee.knee_rps) and not knee.stress and "do not rise" in knee.reason
