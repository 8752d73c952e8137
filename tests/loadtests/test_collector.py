"""The collector on canned Prometheus answers: every failure a recorded outcome, never a crash."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from loadtests.config.profiles import Profile, ProfileQuery
from loadtests.errors import PrometheusError, QueryRejected
from loadtests.serverside.collector import (
    collect_instant,
    collect_range,
    validate_queries,
    write_collected,
)
from loadtests.serverside.livepoll import LivePoller, live_text
from loadtests.serverside.session import ServerSide

T0 = 1_700_000_000.0
GONE = PrometheusError("Prometheus at http://127.0.0.1:9 refused the connection", "unreachable")


def _range_answer(promql, start, end, step_s):
    if promql == "boom":
        raise PrometheusError("execution: many-to-many matching not allowed", "execution")
    if promql == "none":
        return []
    if promql == "nan":
        return [{"metric": {}, "values": [[T0, "NaN"]]}]
    return [{"metric": {"job": "a"}, "values": [[T0, "1"], [T0 + 1, "2"]]}]


def test_range_records_each_outcome_with_its_reason():
    queries = {"memory_bytes": "ok", "cpu_percent": "boom", "a": "none", "b": "nan"}
    info = {"memory_bytes": {"kind": "gauge", "unit": "bytes"}}
    got = collect_range(queries, T0, T0 + 10, 1.0, _range_answer, info)
    records = {r["metric"]: r for r in got.queries}
    assert records["memory_bytes"]["status"] == "ok" and records["memory_bytes"]["points"] == 2
    assert records["memory_bytes"]["kind"] == "gauge"
    assert records["cpu_percent"]["status"] == "error"
    assert "many-to-many" in records["cpu_percent"]["error"]
    assert records["a"]["status"] == "empty"
    assert records["b"]["status"] == "empty" and "NaN" in records["b"]["error"]
    assert got.series["labels"].iloc[0] == '{"job":"a"}'


def test_once_prometheus_is_gone_the_rest_are_not_tried():
    asked = []

    def instant(promql, at_s):
        asked.append(promql)
        raise GONE

    got = collect_instant({"a": "q1", "b": "q2"}, T0, T0 + 60, instant)
    assert asked == ["q1"]
    assert [r["status"] for r in got.queries] == ["error", "error"]
    assert got.queries[1]["error"] == f"not tried: {GONE}"


def test_counter_values_are_stamped_at_the_window_end(tmp_path: Path):
    def instant(promql, at_s):
        return [{"metric": {"signal": "traces"}, "value": [at_s, "95"]},
                {"metric": {"signal": "logs"}, "value": [at_s, "NaN"]}]  # fmt: skip

    got = collect_instant({"otlp_export_success": "q"}, T0, T0 + 60, instant)
    assert list(got.series["timestamp_s"]) == [T0 + 60] * 2
    assert got.queries[0]["status"] == "ok" and got.queries[0]["points"] == 2
    write_collected(tmp_path, got)
    back = pd.read_parquet(tmp_path / "prometheus" / "series.parquet")
    assert math.isnan(back["value"].iloc[1])  # a NaN value, not a null the reader would refuse
    assert back["value"].notna().sum() == 1


def test_validation_rejects_a_parse_error_naming_the_metric():
    def instant(promql, at_s):
        if "(" in promql and ")" not in promql:
            raise PrometheusError(
                "bad_data: 1:6: parse error: unclosed left parenthesis", "bad_data"
            )
        return []

    with pytest.raises(QueryRejected) as caught:
        validate_queries({"memory_bytes": "rss", "cpu_percent": "rate(x"}, instant,
                         {"cpu_percent": "metrics.queries override"})  # fmt: skip
    text = str(caught.value)
    assert "cpu_percent (metrics.queries override)" in text and "rate(x" in text
    assert "parse error" in text and caught.value.exit_code == 2


def test_validation_returns_why_prometheus_did_not_answer():
    def instant(promql, at_s):
        raise GONE

    assert validate_queries({"memory_bytes": "rss"}, instant) == str(GONE)


def test_live_poller_keeps_what_it_saw_after_prometheus_dies():
    answers = iter([[{"metric": {}, "value": [T0 + i, str(50e6 + i)]}] for i in range(2)])

    def instant(promql, at_s):
        answer = next(answers, None)
        if answer is None:
            raise GONE
        return answer

    clock = iter(range(100))
    poller = LivePoller({"memory_bytes": "rss"}, instant, 2.0, clock=lambda: T0 + next(clock))
    for _ in range(3):
        poller.poll_once()
    assert poller.failing == str(GONE)
    got = poller.collected()
    assert list(got.series["source"]) == ["prometheus-live"] * 2
    record = got.queries[0]
    assert (record["status"], record["points"], record["polls"]) == ("ok", 2, 3)
    assert record["error"] == str(GONE)
    assert poller.latest() == {}


def test_live_text_shows_memory_and_cpu():
    assert live_text({"memory_bytes": 54.2e6, "cpu_percent": 13.4}) == "mem 54 MB  cpu 13 %"
    assert live_text({"memory_bytes": math.nan}) == ""


class _DeadApi:
    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url

    def instant(self, promql, at_s=None):
        raise GONE

    def range(self, promql, start, end, step_s):
        raise GONE

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def test_prometheus_unreachable_before_the_load_gives_error_records():
    queries = {"memory_bytes": ProfileQuery("memory_bytes", "gauge", "bytes", "rss")}
    profile = Profile("p", Path("p.yaml"), 1.0, 2.0, queries)
    server = ServerSide(profile, "http://127.0.0.1:9", [], api=_DeadApi)  # type: ignore[arg-type]
    server.check()
    assert server.unreachable == str(GONE)
    assert server.notes == [
        f"{GONE} before the load; the load went ahead and the server-side rows are NO DATA"
    ]
    with server.observing():
        assert server.live_text() == ""
    got = server.collect(T0, T0 + 10)
    assert [(r["source"], r["status"]) for r in got.queries] == [("prometheus", "error")]
    assert got.queries[0]["error"] == str(GONE)  # the NO DATA reason: one plain sentence
    assert got.queries[0]["kind"] == "gauge" and got.queries[0]["profile"] == "p"


def test_without_a_prometheus_url_the_queries_are_skipped():
    queries = {"memory_bytes": ProfileQuery("memory_bytes", "gauge", "bytes", "rss")}
    profile = Profile("p", Path("p.yaml"), 1.0, 2.0, queries)
    server = ServerSide(profile, None, [])
    server.check()
    assert server.settle_s == 0.0
    got = server.collect(T0, T0 + 10)
    assert got.queries[0]["status"] == "skipped" and "--prometheus" in got.queries[0]["error"]
