"""The comparison's statistics: block bootstrap intervals, tolerances and the judging rules."""

import math
from fractions import Fraction

import numpy as np
import pytest

from analysis.compare.bootstrap import (
    Interval,
    QuantileUnits,
    RatioUnits,
    bin_of,
    block_seconds,
    delta_interval,
    resample_weights,
)
from analysis.compare.judging import (
    BETTER,
    INCONCLUSIVE,
    NO_DATA,
    SAME,
    WORSE,
    Tolerance,
    ToleranceError,
    judge_delta,
    overall_verdict,
)

MEDIAN = Fraction(1, 2)


def _units(values_us: np.ndarray, unit_of: np.ndarray) -> QuantileUnits:
    """Quantile units of values grouped by ``unit_of`` (a second, or each request alone)."""
    n_units = int(unit_of.max()) + 1
    return QuantileUnits.from_pairs(unit_of, bin_of(values_us), np.ones(len(values_us)), n_units)


def _run(rng, seconds: int, per_second: int, shift_us: float = 0.0, level_sd: float = 0.0):
    """Latencies (µs) of a run: lognormal around 3 ms, plus a random level per second."""
    levels = rng.normal(0.0, level_sd, seconds) if level_sd else np.zeros(seconds)
    second = np.repeat(np.arange(seconds), per_second)
    values = rng.lognormal(math.log(3000), 0.3, seconds * per_second) + levels[second] + shift_us
    return np.maximum(values, 1.0), second


def test_block_length_follows_the_cube_root_with_at_least_ten_blocks():
    assert [block_seconds(s) for s in (0, 1, 15, 19, 20, 60, 3600)] == [1, 1, 1, 1, 2, 4, 16]


def test_resample_weights_draw_as_many_blocks_as_there_are():
    weights = resample_weights(np.random.default_rng(0), 7, 50)
    assert weights.shape == (50, 7)
    assert np.all(weights.sum(axis=1) == 7)


def test_the_interval_covers_a_known_shift_of_the_median_most_of_the_time():
    rng = np.random.default_rng(11)
    shift_us, hits, trials = 400.0, 0, 60
    for trial in range(trials):
        a, sa = _run(rng, 20, 60)
        b, sb = _run(rng, 20, 60, shift_us)
        interval = delta_interval(_units(a, sa), _units(b, sb), MEDIAN, seed=trial, resamples=400)
        hits += interval.low <= shift_us <= interval.high
    assert hits / trials >= 0.85


def test_the_same_seed_gives_the_same_interval():
    rng = np.random.default_rng(3)
    a, sa = _run(rng, 15, 50)
    b, sb = _run(rng, 15, 50)
    first = delta_interval(_units(a, sa), _units(b, sb), MEDIAN, seed=5, resamples=300)
    again = delta_interval(_units(a, sa), _units(b, sb), MEDIAN, seed=5, resamples=300)
    assert first == again


def test_autocorrelated_seconds_widen_the_block_interval_beyond_the_iid_one():
    rng = np.random.default_rng(5)
    a, sa = _run(rng, 20, 100, level_sd=800.0)  # every request of a second shares its level
    b, sb = _run(rng, 20, 100, level_sd=800.0)
    blocks = delta_interval(_units(a, sa), _units(b, sb), MEDIAN, resamples=500)
    each = np.arange(len(a))
    iid = delta_interval(_units(a, each), _units(b, each), MEDIAN, resamples=500)
    assert (blocks.high - blocks.low) > 2.5 * (iid.high - iid.low)


def test_ratio_units_resample_sums_of_whole_blocks():
    errors = RatioUnits(np.array([0.0, 0.0, 10.0, 0.0]), np.array([100.0] * 4), 100.0)
    none = RatioUnits(np.zeros(4), np.array([100.0] * 4), 100.0)
    interval = delta_interval(none, errors, resamples=500)
    # B's error rate is 2.5 % as measured; a resample holds the bad second 0 to 4 times.
    assert interval.low >= 0.0 and interval.high <= 10.0 and interval.high > 2.5


def test_too_few_blocks_give_no_interval():
    one = RatioUnits(np.array([1.0]), np.array([1.0]))
    assert math.isnan(delta_interval(one, one).low)


def test_the_exact_delta_stays_inside_its_interval_despite_the_bins():
    values = np.full(300, 10_000_000.0)
    seconds = np.repeat(np.arange(12), 25)
    interval = delta_interval(
        _units(values, seconds), _units(values + 3, seconds), MEDIAN, exact_delta=0.003
    )
    assert interval.low <= 0.003 <= interval.high


@pytest.mark.parametrize(
    ("text", "relative", "absolute", "canonical"),
    [("10%", 0.1, 0.0, "10%"), ("2", 0.0, 2.0, "2"), ("10%,2", 0.1, 2.0, "10%,2"),
     (" 2.5 , 20 % ", 0.2, 2.5, "20%,2.5")],
)  # fmt: skip
def test_tolerances_accept_relative_absolute_and_both(text, relative, absolute, canonical):
    tolerance = Tolerance.parse(text)
    assert (tolerance.relative, tolerance.absolute, tolerance.text) == (
        pytest.approx(relative),
        absolute,
        canonical,
    )


def test_a_tolerance_is_the_larger_of_its_share_of_a_and_its_floor():
    assert Tolerance(0.2, 1.0).of(3.0) == 1.0
    assert Tolerance(0.2, 1.0).of(-30.0) == pytest.approx(6.0)
    assert math.isnan(Tolerance(0.2, 1.0).of(math.nan))


@pytest.mark.parametrize("text", ["", "ten", "10%%", "-5", "10%,20%", "1,2"])
def test_bad_tolerances_say_which_forms_exist(text):
    with pytest.raises(ToleranceError, match="not a tolerance|twice"):
        Tolerance.parse(text)


@pytest.mark.parametrize(
    ("low", "high", "higher_is_worse", "verdict"),
    [
        (1.5, 3.0, True, WORSE),  # wholly beyond +1
        (-3.0, -1.5, True, BETTER),  # wholly below -1
        (-1.0, 1.0, True, SAME),  # within, edges included
        (-0.2, 0.4, True, SAME),
        (0.5, 1.5, True, INCONCLUSIVE),  # straddles +1
        (-1.5, -0.5, True, INCONCLUSIVE),  # straddles -1
        (-2.0, 2.0, True, INCONCLUSIVE),  # wider than the whole band
        (-3.0, -1.5, False, WORSE),  # a rate that fell
        (1.5, 3.0, False, BETTER),
        (math.nan, 1.0, True, NO_DATA),
    ],
)
def test_judging_rules(low, high, higher_is_worse, verdict):
    assert judge_delta(Interval(low, high), 1.0, higher_is_worse) == verdict


def test_the_overall_verdict_takes_the_worst_and_ignores_missing_rows():
    assert overall_verdict([SAME, BETTER, WORSE, INCONCLUSIVE]) == WORSE
    assert overall_verdict([SAME, BETTER, INCONCLUSIVE]) == INCONCLUSIVE
    assert overall_verdict([SAME, BETTER, NO_DATA]) == BETTER
    assert overall_verdict([SAME, NO_DATA]) == SAME
    assert overall_verdict([NO_DATA]) == NO_DATA
