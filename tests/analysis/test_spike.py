"""Spike recovery: a known recovery time, a sustained return, never, and what cannot be told."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.contract.targets import Target
from analysis.shapes.spike import first_sustained, spike_recovery
from analysis.shapes.stages import measure_stages, stage_targets
from tests.analysis.helpers import TEST_TARGETS
from tests.analysis.shapes import constant_us, staged

CRITERIA = stage_targets(None, {m: Target.parse(t) for m, t in TEST_TARGETS.items()})
BASE = constant_us(2_000)


def _recovery(after, post_s=20, errors=None):
    frame, meta = staged(
        [(10, 100, BASE), (5, 400, constant_us(500_000)), (post_s, 100, after)], errors=errors
    )
    stages = measure_stages(frame, meta, CRITERIA)
    return spike_recovery(frame, stages)


def test_known_recovery_time():
    # 300 ms for the first 3 s after the spike, then the baseline's 2 ms again
    result = _recovery(lambda t_s: np.where(t_s < 3.0, 300_000, 2_000))
    assert result.recovery_s == 3.0 and result.recovered
    assert result.spike_index == 1 and result.spike_rps == 400 and result.baseline_rps == 100
    assert result.baseline_p99_ms == 2.0
    assert result.p99_limit_ms == 7.0  # max(1.5 × 2, 2 + 5)
    assert result.spike_met is False
    assert result.observed_s == 20
    assert [s.within for s in result.seconds[:4]] == [False, False, False, True]


def test_baseline_is_the_worst_second_before_the_spike():
    def noisy(t_s):  # one second of the baseline stage at 10 ms (after its 2 s of settling)
        return np.where((t_s >= 5.0) & (t_s < 6.0), 10_000, 2_000)

    frame, meta = staged([(10, 100, noisy), (5, 400, constant_us(500_000)),
                          (20, 100, constant_us(12_000))])  # fmt: skip
    result = spike_recovery(frame, measure_stages(frame, meta, CRITERIA))
    assert result.baseline_p99_ms == 10.0 and result.p99_limit_ms == 15.0
    assert result.recovery_s == 0.0


def test_recovery_must_be_sustained_for_five_seconds():
    def bumpy(t_s):  # bad 0-2 s, good 2-4 s, bad 4-5 s, good after
        bad = (t_s < 2.0) | ((t_s >= 4.0) & (t_s < 5.0))
        return np.where(bad, 300_000, 2_000)

    assert _recovery(bumpy).recovery_s == 5.0


def test_within_tolerance_at_once_is_zero():
    assert _recovery(constant_us(6_000)).recovery_s == 0.0  # 6 ms is within 2 ms + 5 ms


def test_errors_after_the_spike_delay_recovery():
    def failing(t_s):  # every 10th request fails for 4 s after the spike's end (at 15 s)
        return (t_s >= 15.0) & (t_s < 19.0) & (np.arange(len(t_s)) % 10 == 0)

    assert _recovery(BASE, errors=failing).recovery_s == 4.0


def test_never_recovering_is_infinite_with_the_reason():
    result = _recovery(constant_us(250_000))
    assert result.recovery_s == math.inf and not result.recovered
    assert "did not recover within the 20 s" in result.reason


def test_too_short_to_tell_and_no_spike_are_nan_with_reasons():
    short = _recovery(BASE, post_s=4)
    assert math.isnan(short.recovery_s) and "5 are needed" in short.reason
    frame, meta = staged([(10, 100, BASE), (10, 200, BASE), (10, 300, BASE)])
    steps = spike_recovery(frame, measure_stages(frame, meta, CRITERIA))
    assert math.isnan(steps.recovery_s) and steps.reason.startswith("no spike")


@pytest.mark.parametrize(
    ("within", "expected"),
    [([True] * 5, 0), ([False] + [True] * 5, 1), ([True] * 4 + [False] + [True] * 4, None)],
)
def test_first_sustained(within, expected):
    assert first_sustained(within) == expected
