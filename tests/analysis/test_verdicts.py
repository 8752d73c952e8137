"""Verdicts, overall status precedence, exit codes and the generator self-check."""

from __future__ import annotations

import math

import pytest

from analysis.contract.targets import Target
from analysis.judging.verdicts import (
    FAIL,
    INCOMPLETE,
    INTERRUPTED,
    NO_DATA,
    PASS,
    Verdict,
    exit_code,
    generator_warnings,
    judge,
    judge_one,
    overall_status,
    saturation_warnings,
)
from analysis.measuring.client import ClientMeasurements, Measured, Percentiles


def _verdict(status: str) -> Verdict:
    return Verdict("latency_p95_ms", "< 50", None, "ms", status)


def test_pass_and_fail_with_margin():
    passed = judge_one("latency_p95_ms", Target.parse("< 50"), Measured(3.4, "client"))
    assert (passed.status, passed.measured, passed.margin, passed.unit) == (PASS, 3.4, 46.6, "ms")
    failed = judge_one("request_rate_rps", Target.parse("800..1200"), Measured(700.0, "client"))
    assert failed.status == FAIL and failed.margin == -100.0


def test_nan_measurement_is_no_data_with_its_reason():
    verdict = judge_one("memory_bytes", Target.parse("< 2GB"), Measured(math.nan, "q", "no series"))
    assert verdict.status == NO_DATA
    assert verdict.measured is None and verdict.margin is None
    assert verdict.reason == "no series"


def test_unknown_metric_is_no_data():
    verdicts = judge({"network_mbps": Target.parse("< 10")}, {})
    assert verdicts[0].status == NO_DATA and verdicts[0].reason


@pytest.mark.parametrize(
    ("statuses", "outcome", "expected"),
    [
        ([PASS, PASS], "completed", PASS),
        ([PASS, NO_DATA], "completed", INCOMPLETE),
        ([FAIL, NO_DATA], "completed", FAIL),
        ([NO_DATA, FAIL, PASS], "completed", FAIL),
        ([FAIL], "interrupted", INTERRUPTED),
        ([PASS], "interrupted", INTERRUPTED),
        ([], "completed", PASS),
        # A run stopped by its watchdog, or that lost a worker, did not apply the planned load.
        ([FAIL], "watchdog", INCOMPLETE),
        ([FAIL, PASS], "worker_lost", INCOMPLETE),
        ([PASS], "worker_lost", INCOMPLETE),
    ],
)
def test_overall_status_precedence(statuses, outcome, expected):
    assert overall_status([_verdict(s) for s in statuses], outcome) == expected


def test_exit_codes():
    assert [exit_code(s) for s in (PASS, FAIL, INCOMPLETE, INTERRUPTED)] == [0, 1, 2, 130]
    with pytest.raises(ValueError):
        exit_code("MAYBE")


def _client(lag_p99_ms: float) -> ClientMeasurements:
    lag = Percentiles(10, {"p50": 0.01, "p99": lag_p99_ms})
    empty = Percentiles()
    return ClientMeasurements(None, 10, 10, 0, 10, Measured(1.0), Measured(0.0), empty, empty, lag)


def test_generator_self_check():
    meta = {
        "load": {"workers": 2},
        "generator": {"cpu_s": 10.0, "wall_s": 10.0, "cap_waits": 3, "max_concurrency": 100},
        "notes": ["worker 1 restarted"],
    }
    warnings = generator_warnings(meta, _client(2.5))
    text = "\n".join(warnings)
    assert "send lag p99 2.500 ms" in text
    assert "concurrency cap" in text and "max_concurrency 100" in text
    assert "note: worker 1 restarted" in text
    assert "core" not in text  # 10 CPU s over 10 s and 2 workers is 50 % a worker


def test_generator_cpu_bound_per_worker():
    meta = {"generator": {"workers": [{"cpu_s": 9.0, "wall_s": 10.0}, {"cpu_s": 1, "wall_s": 10}]}}
    warnings = generator_warnings(meta, _client(0.1))
    assert warnings == ["generator worker 0 was busy 90% of the time (CPU-bound above 80%)"]


def test_generator_cpu_bound_in_total():
    meta = {"load": {"workers": 1}, "generator": {"cpu_s": 9.0, "wall_s": 10.0}}
    assert "CPU-bound" in generator_warnings(meta, _client(0.1))[0]


def test_quiet_generator_has_no_warnings():
    assert generator_warnings({"generator": {"cpu_s": 1.0, "wall_s": 10.0}}, _client(0.2)) == []


def _rate_client(rate_rps: float) -> ClientMeasurements:
    empty = Percentiles()
    lag = Percentiles(10, {"p50": 0.01, "p99": 0.1})
    return ClientMeasurements(
        None, 10, 10, 0, 10, Measured(rate_rps), Measured(0.0), empty, empty, lag
    )


def _steady(rate_rps: float, cap_waits: int) -> dict:
    stage = {"start_us": 0, "end_us": 10, "start_rps": rate_rps, "end_rps": rate_rps, "judge": True}
    return {
        "load": {"rate_rps": rate_rps, "stages": [stage]},
        "generator": {"cap_waits": cap_waits},
    }


def test_saturation_says_who_could_not_keep_the_rate():
    target = saturation_warnings(_steady(300, cap_waits=500), _rate_client(120.0))
    assert target == [
        "the offered rate was not kept: 120.0 of 300 req/s were sent in the steady window; "
        "the target could not sustain it: the concurrency cap stayed full"
    ]
    generator = saturation_warnings(_steady(300, cap_waits=0), _rate_client(200.0))
    assert "the generator fell behind its schedule" in generator[0]
    assert saturation_warnings(_steady(300, cap_waits=0), _rate_client(299.0)) == []


def test_saturation_is_not_judged_on_a_changing_rate():
    meta = _steady(300, cap_waits=5)
    meta["load"]["stages"][0]["start_rps"] = 0  # a ramp: its mean rate is half the end rate
    assert saturation_warnings(meta, _rate_client(150.0)) == []
