"""OTLP export success from item counts: the agent's truth, the collector's bound, the verdict."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from analysis.contract.targets import Target
from analysis.judging.bounds import otlp_bound_decided
from analysis.judging.result import RunResult
from analysis.judging.verdicts import judge_one
from analysis.measuring.otlp import COUNT_METRICS, delivery
from analysis.measuring.serverside import measure_server
from analysis.outputs.otlp_sections import otlp_sections

TARGET = Target.parse("> 99.9")


def _series(counts: dict[str, dict[str, float]], extra: list | None = None) -> pd.DataFrame:
    rows = [
        (100.0, COUNT_METRICS[figure], "prometheus", json.dumps({"signal": signal}), value)
        for signal, figures in counts.items()
        for figure, value in figures.items()
    ]
    columns = ["timestamp_s", "metric", "source", "labels", "value"]
    return pd.DataFrame(rows + (extra or []), columns=columns)


def _verdict(counts: dict[str, dict[str, float]]):
    server = measure_server(_series(counts), (), None)
    verdict = judge_one("otlp_export_success", TARGET, server.otlp_success_percent)
    return otlp_bound_decided([verdict], {"otlp_export_success": TARGET}, server.otlp)[0], server


def test_a_refused_batch_that_a_retry_delivered_is_not_a_loss():
    # The figures: 4,001 spans produced and delivered, two 512-span attempts refused.
    spans = {"produced": 4001, "delivered": 4001, "failed": 0, "dropped": 0, "retried": 1024,
             "accepted": 4001, "refused": 1024}  # fmt: skip
    verdict, server = _verdict({"traces": spans})
    assert (verdict.status, verdict.measured) == ("PASS", 100.0)
    assert verdict.source.startswith("traces decided")
    assert server.otlp is not None and server.otlp.signals[0].counts["refused"] == 1024


def test_failed_and_dropped_items_are_lost_and_pending_ones_left_out():
    counts = {
        "traces": {"produced": 1000, "delivered": 900, "failed": 40, "dropped": 10},  # 50 queued
        "logs": {"produced": 10, "delivered": 10, "failed": 0, "dropped": 0},
        "metrics": {"produced": 0, "delivered": 0, "failed": 0, "dropped": 0},
    }
    verdict, server = _verdict(counts)
    assert verdict.status == "FAIL"
    assert verdict.measured == pytest.approx(100 * 900 / 950)
    assert server.otlp is not None and server.otlp.deciding == "traces"
    traces = server.otlp.signals[0].as_dict()
    assert (traces["pending"], traces["percent"]) == (50, pytest.approx(100 * 900 / 950))
    assert "no metric points produced" in server.otlp.signals[1].note


def test_the_worst_signal_decides_even_when_it_has_few_items():
    counts = {
        "traces": {"produced": 100_000, "delivered": 100_000},
        "logs": {"produced": 10, "delivered": 5, "failed": 5},
    }
    verdict, _ = _verdict(counts)
    assert (verdict.measured, verdict.status) == (50.0, "FAIL")
    assert verdict.source.startswith("logs decided (worst of logs, traces)")


def test_collector_counters_alone_give_a_bound_and_no_verdict_when_it_straddles():
    verdict, server = _verdict({"traces": {"accepted": 4001, "refused": 1024}})
    assert server.otlp is not None and server.otlp.bounded
    assert verdict.status == "NO DATA"
    assert "between 79.62 % and 100.00 %" in verdict.reason


def test_collector_bound_that_meets_the_target_passes_and_no_refusal_is_100():
    assert _verdict({"traces": {"accepted": 1_000_000, "refused": 16}})[0].status == "PASS"
    verdict, server = _verdict({"traces": {"accepted": 500, "refused": 0}})
    assert (verdict.status, verdict.measured) == ("PASS", 100.0)


def test_nothing_produced_is_no_data_and_receiver_down_is_zero():
    none = {s: {"produced": 0, "delivered": 0, "failed": 0, "dropped": 0} for s in ("traces",)}
    verdict, _ = _verdict(none)
    assert verdict.status == "NO DATA" and "no spans produced" in verdict.reason
    down = {"traces": {"produced": 20, "delivered": 0, "failed": 20, "dropped": 0}}
    assert _verdict(down)[0].measured == 0.0


def test_all_pending_is_no_data_not_a_made_up_share():
    result = delivery({"traces": {"produced": 30, "delivered": 0, "failed": 0, "dropped": 0}})
    assert math.isnan(result.measured.value)
    assert "all pending" in result.measured.reason


def test_an_otlp_export_success_query_of_its_own_is_judged_as_it_computes_it():
    own = [(100.0, "otlp_export_success", "prometheus", "{}", 97.5)]
    series = _series({"traces": {"produced": 10, "delivered": 10}}, own)
    server = measure_server(series, (), None)
    assert server.otlp is None and server.otlp_success_percent.value == 97.5


def test_a_failed_count_query_says_why():
    queries = ({"metric": "otlp_produced_items", "source": "prometheus", "query": "q",
                "status": "error", "error": "Prometheus at http://x is unreachable"},)  # fmt: skip
    server = measure_server(_series({}), queries, None)
    assert "unreachable" in server.otlp_success_percent.reason


def test_summary_and_report_show_the_arithmetic_per_signal():
    server = measure_server(
        _series({"traces": {"produced": 10, "delivered": 9, "failed": 1, "refused": 3}}), (), None
    )
    assert server.otlp is not None
    result = RunResult.from_dict(
        {"measurements": {"server": {"otlp": server.otlp.as_dict()}}}, exact=True
    )
    (section,) = otlp_sections(result)
    assert section["head"][:4] == ["signal", "produced", "delivered", "accepted at collector"]
    assert section["rows"][0][:5] == ["traces", "10", "9", "—", "3"]
    assert section["rows"][0][-2:] == ["90.00 %", "agent SDK counters"]
