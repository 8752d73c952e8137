"""Generator stalls: told apart from a frozen target and a full cap, reported and attributed."""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd
import pytest

from analysis import analyze_run, write_outputs
from analysis.contract.targets import Target
from analysis.judging.verdicts import (
    FAIL,
    INCOMPLETE,
    NO_DATA,
    PASS,
    exit_code,
    judge,
    overall_status,
    stall_decided,
)
from analysis.measuring.client import Measured, Percentiles, Window, percentiles_ms
from analysis.measuring.stalls import StallAttribution, attribute, find_stalls
from tests.analysis.helpers import S_US, T0_US, metadata, samples, steady, write_run

MS = 1000


def _simulate(
    n: int,
    rate_rps: float,
    *,
    cap: int = 1000,
    service_us: int = 2 * MS,
    stall: tuple[float, float] | None = None,
    freeze: tuple[float, float] | None = None,
    stall2: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """One generator process against a target answering in ``service_us``.

    ``stall`` (at_s, for_s), ``stall2``: the generator pauses, sends and reads nothing, then sends
    its backlog 20 µs apart. ``freeze`` (at_s, for_s): the target holds the answers to requests
    sent then.
    At most ``cap`` requests are in flight; the others wait for a free slot.
    """
    intended = steady(n, rate_rps)
    sent, done = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    pauses = [[T0_US + int(x * S_US) for x in (p[0], p[0] + p[1])] for p in (stall, stall2) if p]
    held = [T0_US + int(x * S_US) for x in (freeze[0], freeze[0] + freeze[1])] if freeze else None
    in_flight: list[int] = []
    last = 0
    for i, due in enumerate(intended):
        at = max(int(due) + 50, last + 20)
        while in_flight and in_flight[0] <= at:
            heapq.heappop(in_flight)
        if len(in_flight) >= cap:
            at = max(at, heapq.heappop(in_flight))
        for pause in pauses:
            if pause[0] <= at < pause[1]:
                at = pause[1]
        end = at + service_us
        if held and held[0] <= at < held[1]:
            end = max(end, held[1])
        for pause in pauses:
            if at < pause[0] and pause[0] <= end < pause[1]:
                end = pause[1]  # answered during the pause: read when it ends
        sent[i], done[i], last = at, end, at
        heapq.heappush(in_flight, end)
    frame = samples(intended, sent_us=sent, done_us=done)
    return frame.assign(response_us=done - intended)


def _meta(cap: int | None = 1000):
    meta = metadata(end_us=T0_US + 5 * S_US, judge_end_us=T0_US + 5 * S_US)
    meta["generator"]["max_concurrency"] = cap
    return meta


WINDOW = Window(T0_US, T0_US + 5 * S_US, "test")


def test_one_stall_is_one_episode_with_its_requests_and_the_answers_it_held():
    frame = _simulate(5000, 1000, stall=(2.0, 0.2))
    stalls = find_stalls(frame, _meta())
    (episode,) = stalls.episodes
    assert episode.start_us == T0_US + 2 * S_US  # the first request due in the pause
    assert 199 * MS <= episode.max_lag_us <= 201 * MS
    # Due from 2.0 s until the backlog left (2.2 s + 190 × 20 µs): about 200 requests.
    assert 200 <= episode.requests <= 206
    # Sent at 1.998 s and 1.999 s, answered during the pause: read 200 ms late.
    assert episode.held_in_flight == 2
    assert 199 * MS <= episode.held_max_service_us <= 203 * MS
    assert episode.cause == "unknown"
    assert stalls.delayed.sum() == episode.requests + 2
    clean = attribute(frame, WINDOW, stalls)
    assert clean.delayed == episode.requests + 2 and clean.episodes == 1
    assert clean.without.get("max") < 3.0  # only the target's own 2 ms remain
    assert percentiles_ms(np.sort(frame["response_us"].to_numpy())).get("p99") > 100


def test_a_busy_generator_names_its_cpu_as_the_likely_cause():
    meta = _meta()
    meta["generator"].update(cpu_s=9.7, wall_s=10.0)
    (episode,) = find_stalls(_simulate(5000, 1000, stall=(2.0, 0.2)), meta).episodes
    assert episode.cause == "generator CPU-bound (worker 0 used 97% of a core)"


def test_a_frozen_target_is_not_a_generator_stall():
    frame = _simulate(5000, 1000, freeze=(2.0, 0.2))
    assert frame["response_us"].max() > 190 * MS  # the freeze is in the latency ...
    stalls = find_stalls(frame, _meta())
    assert stalls.episodes == () and not stalls.delayed.any()  # ... and is the target's


def test_a_short_stall_inside_a_freeze_takes_out_only_its_own_length():
    # The target holds 100 ms of answers; the generator pauses 12 ms near their end.
    frame = _simulate(5000, 1000, freeze=(2.0, 0.1), stall=(2.09, 0.012))
    stalls = find_stalls(frame, _meta())
    (episode,) = stalls.episodes
    assert 11 * MS <= episode.max_lag_us <= 13 * MS
    assert episode.held_in_flight == 90  # sent 2.000 s to 2.089 s, answered as the pause ends
    clean = attribute(frame, WINDOW, stalls).without
    # Leaving out the 102 delayed requests would leave P99 at the target's 2 ms; taking out what
    # the pause can have added (12 ms at most) leaves the held answers up to 90 ms late.
    assert 35 <= clean.get("p99") <= 45
    full = percentiles_ms(np.sort(frame["response_us"].to_numpy()))
    assert full.get("max") - 13 <= clean.get("max") <= full.get("max") - 11


def test_a_frozen_target_with_a_short_stall_inside_still_fails(tmp_path):
    frame = _simulate(5000, 1000, freeze=(2.0, 0.1), stall=(2.09, 0.012))
    targets = {"latency_p99_ms": "< 20", "error_rate": "< 1"}
    meta = metadata(end_us=T0_US + 5 * S_US, judge_end_us=T0_US + 5 * S_US)
    run_dir = write_run(tmp_path, frame.drop(columns="response_us"), targets=targets, meta=meta)
    analysis = analyze_run(run_dir)
    assert analysis.summary["measurements"]["generator_stall_count"] == 1
    verdict = {v["metric"]: v for v in analysis.summary["verdicts"]}["latency_p99_ms"]
    assert verdict["status"] == FAIL and analysis.status == FAIL


def test_waiting_for_a_full_cap_is_not_a_generator_stall():
    frame = _simulate(5000, 1000, cap=20, freeze=(2.0, 0.3))
    lag = frame["sent_us"] - frame["intended_us"]
    assert (lag > 100 * MS).sum() > 100  # requests waited for a slot while the target froze
    assert find_stalls(frame, _meta(cap=20)).episodes == ()
    # The cap is what tells them apart: without it, the same late sends look like a stall.
    assert len(find_stalls(frame, _meta(cap=None)).episodes) == 1


def test_short_gaps_merge_and_on_time_runs_have_no_stall():
    # Resumes for 5 ms, pauses again: one episode. A second apart: two.
    frame = _simulate(5000, 1000, stall=(1.0, 0.05), stall2=(1.055, 0.05))
    (episode,) = find_stalls(frame, _meta()).episodes
    assert 50 * MS <= episode.max_lag_us <= 51 * MS and episode.requests >= 100
    frame = _simulate(5000, 1000, stall=(1.0, 0.05), stall2=(2.0, 0.05))
    assert len(find_stalls(frame, _meta()).episodes) == 2
    assert find_stalls(_simulate(5000, 1000), _meta()).episodes == ()


def _latency_verdicts(p99_ms: float, target: str) -> tuple[list, dict[str, Target]]:
    targets = {"latency_p50_ms": Target.parse("< 10"), "latency_p99_ms": Target.parse(target)}
    measured = {"latency_p50_ms": Measured(1.0, "client"), "latency_p99_ms": Measured(p99_ms)}
    return judge(targets, measured), targets


def _clean(p99_ms: float, delayed: int = 140) -> StallAttribution:
    values = {"p50": 0.9, "p90": 1.0, "p95": 1.0, "p99": p99_ms, "p999": p99_ms, "max": p99_ms}
    return StallAttribution(Percentiles(1000, values), delayed, 1)


def test_a_latency_fail_the_stalls_decide_is_incomplete_with_the_reason():
    verdicts, targets = _latency_verdicts(132.0, "< 50")
    assert overall_status(verdicts, "completed") == FAIL
    decided = stall_decided(verdicts, targets, _clean(0.92))
    p99 = decided[1]
    assert p99.status == NO_DATA and p99.measured == 132.0
    assert p99.reason == (
        "the generator's own pauses decide latency_p99_ms: 132.000 ms measured, 0.920 ms "
        "without what its 1 stall(s) added to 140 requests"
    )
    assert decided[0] == verdicts[0]  # P50 passed anyway: untouched
    status = overall_status(decided, "completed")
    assert status == INCOMPLETE and exit_code(status) == 2


@pytest.mark.parametrize(
    ("p99_ms", "target", "clean_p99_ms", "status"),
    [
        (132.0, "< 50", 60.0, FAIL),  # fails either way: the target's
        (20.0, "< 50", 0.9, PASS),  # passes anyway
        (132.0, "< 50", float("nan"), FAIL),  # nothing left to judge without the stalls
    ],
)
def test_verdicts_the_stalls_do_not_decide_stay(p99_ms, target, clean_p99_ms, status):
    verdicts, targets = _latency_verdicts(p99_ms, target)
    decided = stall_decided(verdicts, targets, _clean(clean_p99_ms))
    assert decided == verdicts and decided[1].status == status


def test_without_delayed_requests_nothing_changes():
    verdicts, targets = _latency_verdicts(132.0, "< 50")
    assert stall_decided(verdicts, targets, _clean(0.9, delayed=0)) == verdicts


def test_analysis_reports_the_stall_and_judges_the_run_incomplete(tmp_path):
    frame = _simulate(1000, 100, stall=(5.0, 0.2)).drop(columns="response_us")
    targets = {"latency_p50_ms": "< 10", "latency_p99_ms": "< 50", "error_rate": "< 1"}
    run_dir = write_run(tmp_path, frame, targets=targets, meta=metadata())
    analysis = analyze_run(run_dir)
    assert analysis.status == INCOMPLETE and analysis.exit_code == 2
    m = analysis.summary["measurements"]
    assert m["generator_stall_count"] == 1
    (stall,) = m["generator_stalls"]
    assert stall["start_s"] == 5.0 and 199 <= stall["duration_ms"] <= 201
    # Due in the pause (20) and at its end, behind the backlog (1); none was in flight.
    assert stall["requests"] == 21 and stall["held_in_flight"] == 0
    assert stall["cause"] == "unknown" and m["stall_delayed_requests"] == 21
    assert m["latency_ms"]["p99"] > 50 and m["latency_without_stalls_ms"]["max"] < 3
    verdict = {v["metric"]: v for v in analysis.summary["verdicts"]}["latency_p99_ms"]
    assert verdict["status"] == NO_DATA
    assert verdict["reason"].startswith("the generator's own pauses decide latency_p99_ms")
    assert any(w.startswith("generator stall at 5.00 s") for w in analysis.summary["warnings"])
    write_outputs(run_dir, analysis)
    html = (run_dir / "index.html").read_text()
    assert "Generator stalls" in html and "without generator stalls" in html
    assert "Grey bands" in html  # the latency chart's caption names the shaded stalls


def test_a_stall_that_does_not_decide_leaves_the_fail(tmp_path):
    frame = _simulate(1000, 100, stall=(5.0, 0.2)).drop(columns="response_us")
    targets = {"latency_p99_ms": "< 1", "error_rate": "< 1"}  # 2 ms answers fail it anyway
    analysis = analyze_run(write_run(tmp_path, frame, targets=targets, meta=metadata()))
    assert analysis.status == FAIL and analysis.summary["measurements"]["generator_stall_count"]
