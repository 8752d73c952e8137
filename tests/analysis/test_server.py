"""Server measurements from Prometheus series: window, aggregation, missing data with reasons."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.contract.targets import Target
from analysis.judging.verdicts import judge_one, overall_status
from analysis.measuring.client import Window
from analysis.measuring.serverside import measure_server, metric_points
from tests.analysis.helpers import S_US, T0_US, series

T0_S = T0_US / S_US
WINDOW = Window(T0_US, T0_US + 10 * S_US, "test")
QUERIES = (
    {
        "metric": "memory_bytes",
        "source": "prometheus",
        "query": "process_resident_memory_bytes",
        "status": "ok",
    },
    {
        "metric": "cpu_percent",
        "source": "prometheus",
        "query": "rate(cpu[15s]) * 100",
        "status": "ok",
    },
    {"metric": "otlp_export_success", "source": "prometheus", "query": "otlp_ok", "status": "ok"},
)


def test_memory_max_cpu_mean_and_p95_within_the_window():
    rows = [(T0_S - 5, "memory_bytes", 9e9), (T0_S + 15, "cpu_percent", 999.0)]
    rows += [(T0_S + t, "memory_bytes", 100.0 + t) for t in range(0, 11, 5)]
    rows += [
        (T0_S + t, "cpu_percent", v) for t, v in zip(range(0, 10), range(10, 110, 10), strict=True)
    ]
    rows += [(T0_S + 5, "otlp_export_success", 99.0), (T0_S + 10, "otlp_export_success", 99.95)]
    result = measure_server(series(rows), QUERIES, WINDOW)
    assert result.memory_max_bytes.value == 110.0
    assert result.memory_max_bytes.source == (
        "max over the steady window of prometheus: process_resident_memory_bytes"
    )
    assert result.cpu_mean_percent.source.startswith("mean over the steady window")
    assert "verdict is on the mean" in result.cpu_mean_percent.source
    assert result.cpu_mean_percent.value == pytest.approx(55.0)
    assert result.cpu_p95_percent.value == 100.0
    assert result.otlp_success_percent.value == 99.95


def test_otlp_single_instant_is_used_as_is():
    result = measure_server(series([(T0_S + 60, "otlp_export_success", 99.99)]), QUERIES, WINDOW)
    assert result.otlp_success_percent.value == 99.99
    assert "instant" in result.otlp_success_percent.source


def test_missing_series_file_gives_nan_with_reason():
    result = measure_server(series([]), (), WINDOW, has_series=False)
    for measured in (result.memory_max_bytes, result.cpu_mean_percent, result.otlp_success_percent):
        assert math.isnan(measured.value)
        assert "series.parquet" in measured.reason


def test_failed_query_reason_names_the_error():
    queries = ({"metric": "cpu_percent", "query": "up", "status": "error", "error": "timeout 5s"},)
    result = measure_server(series([]), queries, WINDOW, has_series=True)
    assert math.isnan(result.cpu_mean_percent.value)
    assert "timeout 5s" in result.cpu_mean_percent.reason
    assert result.cpu_mean_percent.source == "prometheus: up"


def test_points_outside_the_window_are_not_used():
    result = measure_server(series([(T0_S + 60, "memory_bytes", 5.0)]), QUERIES, WINDOW)
    assert math.isnan(result.memory_max_bytes.value)
    assert "steady window" in result.memory_max_bytes.reason


def test_label_sets_combine_and_prometheus_wins_over_process():
    frame = series([(T0_S, "memory_bytes", 1.0), (T0_S, "memory_bytes", 2.0)])
    frame["labels"] = ['{"pid":"1"}', '{"pid":"2"}']
    extra = series([(T0_S, "memory_bytes", 50.0)], source="process")
    points = metric_points(pd.concat([frame, extra], ignore_index=True), "memory_bytes")
    assert list(points["value"]) == [3.0]


def _labelled(rows: list[tuple[float, str, float]], source: str, labels: str) -> pd.DataFrame:
    frame = series(rows, source=source)
    frame["labels"] = labels
    return frame


def test_sources_rank_prometheus_then_process_then_live():
    live = series([(T0_S + 1, "memory_bytes", 7.0)], source="prometheus-live")
    process = _labelled([(T0_S + 2, "memory_bytes", 5.0)], "process", '{"name":"a","pid":"9"}')
    queries = (
        {
            "metric": "memory_bytes",
            "source": "process",
            "query": "RSS of pid 9 (a)",
            "status": "ok",
        },
        {"metric": "memory_bytes", "source": "prometheus-live", "query": "rss", "status": "ok"},
    )
    both = measure_server(pd.concat([live, process], ignore_index=True), queries, WINDOW)
    assert both.memory_max_bytes.value == 5.0
    assert both.memory_max_bytes.source == (
        "max over the steady window of process sampler: RSS of pid 9 (a)"
    )
    only_live = measure_server(live, queries, WINDOW).memory_max_bytes
    assert only_live.value == 7.0
    assert "prometheus-live (polled during the run): rss" in only_live.source


def test_otlp_counter_with_refusals_fails_with_the_worst_signal():
    queries = ({"metric": "otlp_export_success", "query": "q", "kind": "counter", "status": "ok"},)
    traces = _labelled([(T0_S + 12, "otlp_export_success", 95.0)], "prometheus", '{"signal":"t"}')
    logs = _labelled([(T0_S + 12, "otlp_export_success", math.nan)], "prometheus", '{"signal":"l"}')
    result = measure_server(pd.concat([traces, logs], ignore_index=True), queries, WINDOW)
    assert result.otlp_success_percent.value == 95.0
    assert result.otlp_success_percent.source == "over the run window (instant) of prometheus: q"
    verdict = judge_one("otlp_export_success", Target.parse("> 99.9"), result.otlp_success_percent)
    assert (verdict.status, verdict.measured) == ("FAIL", 95.0)


def test_failed_queries_are_problems_that_leave_the_run_incomplete():
    gone = "Prometheus at http://127.0.0.1:1 refused the connection"
    queries = (
        {"metric": "memory_bytes", "source": "prometheus", "status": "error", "error": gone},
        {"metric": "cpu_percent", "source": "prometheus", "status": "error",
         "error": f"not tried: {gone}"},
        {"metric": "cpu_percent", "source": "prometheus-live", "status": "error", "error": gone},
        {"metric": "otlp_export_success", "source": "prometheus", "status": "empty", "error": "x"},
    )  # fmt: skip
    result = measure_server(series([]), queries, WINDOW)
    assert result.problems == (f"memory_bytes, cpu_percent (prometheus): {gone}",)
    assert result.memory_max_bytes.reason == gone  # the collector's sentence, as it is
    assert result.cpu_mean_percent.reason == gone  # also where it was not tried
    assert overall_status([], "completed", result.problems) == "INCOMPLETE"
    assert overall_status([], "completed", ()) == "PASS"


def test_other_profile_metrics_are_summarised():
    rows = [(T0_S + t, "agent_request_rate_rps", 100.0 + t) for t in range(3)]
    queries = ({"metric": "cache_hit_percent", "query": "h", "status": "empty", "error": "none"},)
    others = measure_server(series(rows), queries, WINDOW).others
    assert others["agent_request_rate_rps"].value == 101.0
    assert others["agent_request_rate_rps"].source.startswith("mean over the steady window")
    assert math.isnan(others["cache_hit_percent"].value)
    assert "none" in others["cache_hit_percent"].reason
