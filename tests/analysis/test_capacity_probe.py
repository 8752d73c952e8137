"""A capacity probe judged from its summary, the saved capacity document and its outputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis.capacity.document import CapacityDoc, exit_code_of, from_search, headline
from analysis.capacity.folder import render_capacity, write_capacity
from analysis.capacity.probe import (
    judge_probe,
    probe_targets,
    queue_rise,
    relative_margin,
    rise_limit_ms,
)
from analysis.capacity.report import format_capacity
from analysis.capacity.search import (
    FAIL,
    PASS,
    UNJUDGED,
    SearchSettings,
    StopSearch,
    Trial,
    search,
)
from analysis.judging.result import RunResult, VerdictRecord


def _verdict(metric: str, target: str, measured: float, margin: float, status: str) -> dict:
    return {"metric": metric, "target": target, "measured": measured, "unit": "ms",
            "margin": margin, "status": status}  # fmt: skip


def _result(verdicts: list[dict], status: str = "PASS", **measurements) -> RunResult:
    base = {"requests": 3000, "not_sent": 0, "send_lag_ms": {"p99": 1.0},
            "generator": {"max_concurrency": 2000, "cap_waits": 0}}  # fmt: skip
    base.update(measurements)
    return RunResult.from_dict(
        {"scenario": "c", "status": status, "measurements": base, "verdicts": verdicts}
    )


P95_OK = _verdict("latency_p95_ms", "< 50", 10.0, 40.0, "PASS")
P95_BAD = _verdict("latency_p95_ms", "< 50", 150.0, -100.0, "FAIL")


def test_targets_that_do_not_scale_with_the_rate_are_left_out_with_a_note():
    kept, notes = probe_targets(
        {"request_rate_rps": ">= 900", "latency_p95_ms": "< 50", "knee_rps": ">= 1000"}
    )
    assert kept == {"latency_p95_ms": "< 50"}
    assert len(notes) == 2 and "only a range scales" in notes[0] and "knee_rps" in notes[1]
    kept, notes = probe_targets({"request_rate_rps": "800..1200"})
    assert kept == {"request_rate_rps": "800..1200"} and not notes


def test_relative_margin_is_over_the_nearest_bound():
    assert relative_margin(VerdictRecord.model_validate(P95_OK)) == pytest.approx(0.8)
    assert relative_margin(VerdictRecord.model_validate(P95_BAD)) == pytest.approx(-2.0)
    near_high = _verdict("request_rate_rps", "80..120", 115.0, 5.0, "PASS")
    assert relative_margin(VerdictRecord.model_validate(near_high)) == pytest.approx(5 / 120)


def test_a_failing_target_fails_the_probe_with_its_reason_and_margin():
    trial = judge_probe(_result([P95_OK, P95_BAD], "FAIL"), "run-1")
    assert trial.status == FAIL and trial.margin == pytest.approx(-2.0)
    assert trial.reasons == ("latency_p95_ms 150 ms, target < 50",)
    assert trial.run_dir == "run-1"
    assert judge_probe(_result([P95_OK])).status == PASS


def test_requests_never_sent_fail_a_probe_whose_targets_pass():
    trial = judge_probe(_result([P95_OK], not_sent=1000, requests=3000))
    assert trial.status == FAIL and trial.margin == pytest.approx(-0.25)
    assert "1,000 of 4,000 requests due were never sent" in trial.reasons[0]


def test_a_queue_growing_through_the_probe_fails_it():
    intended = np.arange(0, 10_000_000, 10_000)  # 1000 requests over 10 s
    growing = pd.DataFrame({"intended_us": intended, "response_us": 2_000 + intended // 100})
    rise = queue_rise(growing, 0, 10_000_000)
    assert rise.first_ms == pytest.approx(14.5, abs=0.1)
    assert rise.last_ms == pytest.approx(89.5, abs=0.1)
    limit = rise_limit_ms({"latency_p50_ms": "< 10", "latency_p95_ms": "< 50"})
    assert limit == 2.5  # a quarter of the tightest latency bound
    trial = judge_probe(_result([P95_OK]), rise=rise, limit_ms=limit)
    assert trial.status == FAIL and "the queue grew" in trial.reasons[0]
    flat = growing.assign(response_us=2_000 + intended % 3_000)
    assert judge_probe(_result([P95_OK]), rise=queue_rise(flat, 0, 10_000_000), limit_ms=limit)\
        .status == PASS  # fmt: skip


def test_a_late_generator_leaves_the_probe_unjudged_even_when_a_target_failed():
    trial = judge_probe(_result([P95_BAD], "FAIL", send_lag_ms={"p99": 400.0}))
    assert trial.status == UNJUDGED and "send lag P99 400.0 ms" in trial.reasons[0]
    # Waits for the concurrency cap are the target's doing: the FAIL stands.
    capped = _result([P95_BAD], "FAIL", send_lag_ms={"p99": 400.0},
                     generator={"max_concurrency": 10, "cap_waits": 50})  # fmt: skip
    assert judge_probe(capped).status == FAIL


def test_no_data_without_a_fail_is_unjudged_and_an_interrupted_run_refused():
    no_data = {"metric": "latency_p95_ms", "target": "< 50", "measured": None, "unit": "ms",
               "status": "NO DATA", "reason": "no requests"}  # fmt: skip
    trial = judge_probe(_result([no_data], "INCOMPLETE"))
    assert trial.status == UNJUDGED and "no requests" in trial.reasons[0]
    with pytest.raises(ValueError, match="interrupted"):
        judge_probe(_result([P95_OK], "INTERRUPTED"))


def _found_search():
    figures = {"p50_ms": 3.0, "p95_ms": 8.0, "p99_ms": 11.0}

    def probe(rate: float) -> Trial:
        if rate <= 400:
            return Trial(PASS, 0.5, (), f"run-{rate:g}", figures)
        return Trial(FAIL, -1.0, (f"latency_p95_ms at {rate:g}",), f"run-{rate:g}", figures)

    return search(SearchSettings(250.0, 10.0, 4000.0, time_budget_s=1e9), probe, lambda: 0.0)


def test_the_document_round_trips_and_every_output_is_written(tmp_path):
    result = _found_search()
    doc = from_search("capacity", result, targets={"latency_p95_ms": "< 50"}, elapsed_s=12.0)
    assert doc.status == "FOUND" and doc.exit_code == 0
    assert doc.why_above_failed == [f"latency_p95_ms at {doc.high_rps:g}"]
    paths = write_capacity(tmp_path, doc)
    assert {p.name for p in paths} == {
        "capacity.json", "summary.md", "capacity.html", "capacity-probes.png"
    }  # fmt: skip
    saved = CapacityDoc.read(tmp_path)
    assert saved == doc
    assert json.loads((tmp_path / "capacity.json").read_text())["probes"][0]["rate_rps"] == 250
    html = (tmp_path / "capacity.html").read_text()
    assert "capacity-probes.png" in html and "run-250/index.html" in html
    md = (tmp_path / "summary.md").read_text()
    assert f"fails at {doc.high_rps:g} req/s" in md and md.count("\n| ") == len(doc.probes) + 1
    (tmp_path / "capacity.html").unlink()
    assert render_capacity(tmp_path) == paths  # the pages again, from capacity.json alone
    assert (tmp_path / "capacity.html").read_text() == html
    text = format_capacity(saved)
    assert 380 <= doc.capacity_rps <= 400 < doc.high_rps
    assert text.startswith(f"edgeperf capacity: capacity: FOUND: capacity {doc.capacity_rps:g}")
    assert len(text.splitlines()) == 3 + 2 + len(doc.probes)  # headline, why (2), table


def test_exit_codes_follow_the_required_rate():
    assert exit_code_of("FOUND", 390.0, None) == 0
    assert exit_code_of("BELOW", 0.0, None) == 0
    assert exit_code_of("FOUND", 390.0, 350.0) == 0
    assert exit_code_of("FOUND", 390.0, 400.0) == 1
    assert exit_code_of("CANNOT_JUDGE", 100.0, None) == 2
    assert exit_code_of("CANNOT_JUDGE", 100.0, 50.0) == 0  # a passing probe proved the floor
    assert exit_code_of("CANNOT_JUDGE", 100.0, 200.0) == 2
    assert exit_code_of("INTERRUPTED", 100.0, None) == 130


def test_an_interrupted_search_keeps_the_probes_that_ran():
    calls = []

    def probe(rate: float) -> Trial:
        calls.append(rate)
        if len(calls) == 3:
            raise StopSearch
        return Trial(PASS, 0.5)

    result = search(SearchSettings(100.0, 10.0, 1000.0, time_budget_s=1e9), probe, lambda: 0.0)
    assert result.stopped == "interrupted" and [p.rate_rps for p in result.probes] == [100, 200]
    doc = from_search("c", result, interrupted=True)
    assert doc.status == "INTERRUPTED" and doc.exit_code == 130
    assert headline(doc).startswith("capacity at least 200 req/s")
    assert doc.high_rps is None and math.isinf(result.high_rps)


def test_a_probe_that_could_not_run_keeps_the_probes_and_cannot_judge():
    def probe(rate: float) -> Trial:
        if rate > 150:
            raise StopSearch(f"the probe at {rate:g} req/s could not run: target refused")
        return Trial(PASS, 0.5)

    result = search(SearchSettings(100.0, 10.0, 1000.0, time_budget_s=1e9), probe, lambda: 0.0)
    assert result.stopped == "the probe at 200 req/s could not run: target refused"
    doc = from_search("c", result, broken=True)
    assert doc.status == "CANNOT_JUDGE" and doc.exit_code == 2
    assert [p.rate_rps for p in doc.probes] == [100.0]
    assert headline(doc).endswith("(the probe at 200 req/s could not run: target refused)")
    none_ran = from_search("c", search(SearchSettings(200.0, 10.0, 1000.0), probe), broken=True)
    assert format_capacity(none_ran).splitlines() == [
        "edgeperf capacity: c: CANNOT_JUDGE: capacity unknown: no probe could be judged "
        "(the probe at 200 req/s could not run: target refused)"
    ]
