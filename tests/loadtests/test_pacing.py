"""Arrival schedules: exact counts, stage shapes, stochastic moments, worker splits."""

import numpy as np
import pytest

from loadtests.engine.pacing import Schedule, StageSpan, spans_from_stages


def _offsets(schedule: Schedule) -> np.ndarray:
    return np.fromiter(schedule.offsets_us(), dtype=np.int64)


def test_uniform_constant_rate_is_evenly_spaced():
    offsets = _offsets(Schedule(spans_from_stages([(2.0, 500, 500, True)])))
    assert len(offsets) == 1000
    assert np.all(np.diff(offsets) == 2000)  # 500 req/s: one every 2 ms exactly
    assert offsets[0] == 0 and offsets[-1] < 2_000_000


def test_linear_ramp_follows_the_rate():
    offsets = _offsets(Schedule(spans_from_stages([(10.0, 0, 1000, False)])))
    assert len(offsets) == 5000  # area of the triangle
    # Arrivals in each second grow linearly: second k holds about 100*(k+0.5) arrivals.
    per_second = np.bincount(offsets // 1_000_000, minlength=10)
    expected = 100 * (np.arange(10) + 0.5)
    assert np.all(np.abs(per_second - expected) <= 1)


def test_steps_and_spike_stages():
    spans = spans_from_stages([(1.0, 100, 100, True), (1.0, 300, 300, True), (1.0, 100, 100, True)])
    offsets = _offsets(Schedule(spans))
    per_second = np.bincount(offsets // 1_000_000, minlength=3)
    assert per_second.tolist() == [100, 300, 100]


def test_zero_rate_stage_sends_nothing():
    spans = spans_from_stages([(1.0, 100, 100, True), (2.0, 0, 0, True), (1.0, 100, 100, True)])
    offsets = _offsets(Schedule(spans))
    assert not np.any((offsets >= 1_000_000) & (offsets < 3_000_000))
    assert len(offsets) == 200


def test_poisson_mean_and_variance():
    schedule = Schedule(spans_from_stages([(200.0, 1000, 1000, True)]), arrival="poisson", seed=3)
    offsets = _offsets(schedule)
    assert abs(len(offsets) - 200_000) < 4 * np.sqrt(200_000)
    gaps_s = np.diff(offsets) / 1e6
    assert gaps_s.mean() == pytest.approx(1e-3, rel=0.01)
    assert gaps_s.var() / gaps_s.mean() ** 2 == pytest.approx(1.0, rel=0.03)  # exponential: CV^2=1
    counts = np.bincount(offsets // 1_000_000)
    assert counts.var() / counts.mean() == pytest.approx(1.0, rel=0.25)  # Poisson counts


def test_gamma_burstiness_sets_gap_variability():
    spans = spans_from_stages([(100.0, 1000, 1000, True)])
    gaps = np.diff(_offsets(Schedule(spans, arrival="gamma", burstiness=4.0, seed=5)))
    assert (gaps.var() / gaps.mean() ** 2) == pytest.approx(4.0, rel=0.1)
    assert gaps.mean() == pytest.approx(1000, rel=0.05)


def test_same_seed_same_schedule_other_seed_differs():
    spans = spans_from_stages([(5.0, 200, 200, True)])
    a = _offsets(Schedule(spans, arrival="poisson", seed=1))
    b = _offsets(Schedule(spans, arrival="poisson", seed=1))
    c = _offsets(Schedule(spans, arrival="poisson", seed=2))
    assert np.array_equal(a, b) and not np.array_equal(a[:50], c[:50])


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_uniform_workers_split_the_single_schedule_exactly(workers):
    spans = spans_from_stages([(3.0, 0, 900, False), (4.0, 900, 900, True)])
    whole = _offsets(Schedule(spans))
    parts = [
        _offsets(Schedule(spans, worker_index=i, worker_count=workers)) for i in range(workers)
    ]
    assert np.array_equal(np.sort(np.concatenate(parts)), whole)


def test_poisson_workers_share_the_rate():
    spans = spans_from_stages([(50.0, 1000, 1000, True)])
    parts = [
        _offsets(Schedule(spans, arrival="poisson", worker_index=i, worker_count=2)) for i in (0, 1)
    ]
    assert all(abs(len(p) - 25_000) < 4 * np.sqrt(25_000) for p in parts)
    assert not np.array_equal(parts[0][:100], parts[1][:100])


def test_time_at_inverts_the_cumulative_count():
    span = StageSpan(0.0, 10.0, 200.0, 800.0)
    for t in (0.0, 1.0, 5.0, 9.5):
        count = 200 * t + 0.5 * (800 - 200) / 10 * t * t
        assert span.time_at(count) == pytest.approx(t, abs=1e-9)
