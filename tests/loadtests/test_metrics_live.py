"""Profiles, collector and process sampler against a real Prometheus scraping real targets.

Job "edge-agent" is the real stand-in; job "otlp-collector" is an exporter in this test whose
otelcol_receiver_* counters the tests move themselves.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from analysis.api import analyze_run
from loadtests.config.profiles import resolve_profile
from loadtests.config.scenario import Scenario
from loadtests.errors import QueryRejected
from loadtests.serverside.collector import collect_instant, collect_range, write_collected
from loadtests.serverside.procsampler import ProcessSampler, find_processes
from loadtests.serverside.promapi import PrometheusAPI
from loadtests.serverside.session import ServerSide
from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.launchers.launch import (
    AgentProcess,
    PrometheusProcess,
    start_agent,
    start_prometheus,
)
from loadtests.stack.launchers.processes import free_port
from tests.analysis.helpers import samples, steady, write_run
from tests.loadtests.conftest import HANG_S, wait_until

pytestmark = [pytest.mark.live, pytest.mark.slow]

SCRAPE_S = 1.0
ITEMS = ("spans", "metric_points", "log_records")
JOBS = ("edge-agent", "otlp-collector")
LIVE_TEXT = r"mem \d+ MB  cpu \d+ %"  # both figures from Prometheus (no "(process)")


@dataclass
class Live:
    agent: AgentProcess
    prometheus: PrometheusProcess
    counters: dict[str, Counter]


def _scenario(**metrics) -> Scenario:
    requests = [{"kind": "health", "weight": 1, "path": "/health"}]
    return Scenario.model_validate({"name": "t", "requests": requests, "metrics": metrics})


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    registry = CollectorRegistry()
    labels = {"receiver": "otlp", "transport": "http"}
    counters = {
        f"{outcome}_{item}": Counter(
            f"otelcol_receiver_{outcome}_{item}", "test", list(labels), registry=registry
        )
        for outcome in ("accepted", "refused")
        for item in ITEMS
    }
    received = Counter(
        "otelcol_receiver_received_bytes", "test", [*labels, "signal"], registry=registry
    )
    for name in counters:
        counters[name] = counters[name].labels(**labels)  # type: ignore[assignment]
    counters["bytes"] = received.labels(signal="traces", **labels)  # type: ignore[assignment]
    port = free_port()
    exporter, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
    work = tmp_path_factory.mktemp("metrics-live")
    config = AgentConfig(upstream_distribution="constant", upstream_median_ms=1.0)
    try:
        with start_agent(config, work / "agent") as agent:
            jobs = {
                "edge-agent": f"127.0.0.1:{agent.metrics_port}",
                "otlp-collector": f"127.0.0.1:{port}",
            }
            with start_prometheus(
                jobs, work / "prom", scrape_interval_s=SCRAPE_S, timeout_s=HANG_S
            ) as prometheus:
                yield Live(agent, prometheus, counters)
    finally:
        exporter.shutdown()


def _scraped_since(api: PrometheusAPI, since_s: float) -> bool:
    """Whether Prometheus holds a scrape of every job that started after ``since_s``."""
    selector = f'up{{job=~"{"|".join(JOBS)}"}}'
    # A sample's timestamp is the start of its scrape: a later one read the counts of now.
    scrapes = api.instant(f"timestamp({selector})")
    return len(scrapes) == len(JOBS) and all(float(s["value"][1]) > since_s for s in scrapes)


def _wait_for_scrape(api: PrometheusAPI) -> None:
    """Return once Prometheus has scraped every job since this call: it has the counts of now."""
    now_s = time.time()
    wait_until(lambda: _scraped_since(api, now_s), "Prometheus to scrape every job")


def _traffic(live: Live, api: PrometheusAPI, rounds: int = 3) -> None:
    """Chat requests (hits and misses) and OTLP counts, each round in a scrape of its own."""
    with httpx.Client(base_url=live.agent.url, trust_env=False) as client:
        for _ in range(rounds):
            for i in range(20):
                body = {"model": "m", "messages": [{"role": "user", "content": f"q{i % 8}"}]}
                assert client.post("/v1/chat/completions", json=body).status_code == 200
            for item in ITEMS:
                live.counters[f"accepted_{item}"].inc(10)
            live.counters["bytes"].inc(4096)
            _wait_for_scrape(api)


def test_every_embedded_query_returns_the_stand_ins_series(live: Live) -> None:
    with PrometheusAPI(live.prometheus.url) as api:
        start_s = time.time()
        _wait_for_scrape(api)  # a scrape before the traffic, inside the window
        _traffic(live, api)  # and the last counts are scraped
    end_s = time.time()
    profile = resolve_profile(_scenario(profile="embedded"))
    gauges = {m: q.promql for m, q in profile.gauges().items()}
    counters = {m: q.rendered(end_s - start_s) for m, q in profile.counters().items()}
    assert len(gauges) + len(counters) == len(profile.queries) >= 9
    with PrometheusAPI(live.prometheus.url) as api:
        got = collect_range(gauges, start_s, end_s, SCRAPE_S, api.range).queries
        got += collect_instant(counters, start_s, end_s, api.instant).queries
    assert [(r["metric"], r["status"]) for r in got if r["status"] != "ok"] == []
    assert all(r["points"] > 0 for r in got)


def test_refused_spans_alone_bound_the_otlp_verdict_between_accepted_share_and_100(
    live: Live, tmp_path: Path
) -> None:
    # The collector's counters count attempts: 50 refused spans may all have been delivered by
    # a retry, or all lost. Without the agent's own counts the truth lies in [95 %, 100 %], which
    # straddles > 99.9: no verdict, the bound as the reason (never the attempt ratio as a FAIL).
    start_s = time.time()
    profile = resolve_profile(_scenario())
    with PrometheusAPI(live.prometheus.url) as api:
        _wait_for_scrape(api)  # a scrape before the counts move
        live.counters["accepted_spans"].inc(950)
        live.counters["refused_spans"].inc(50)
        _wait_for_scrape(api)  # and one after
        end_s = time.time()
        promql = {
            m: q.rendered(end_s - start_s)
            for m, q in profile.counters().items()
            if m in ("otlp_accepted_items", "otlp_refused_items")
        }
        assert len(promql) == 2, sorted(profile.counters())
        info = {m: {"kind": "counter"} for m in promql}
        collected = collect_instant(promql, start_s, end_s, api.instant, info)
    run_dir = write_run(tmp_path, samples(steady(1000)), targets={"otlp_export_success": "> 99.9"})
    write_collected(run_dir, collected)
    verdicts = {v["metric"]: v for v in analyze_run(run_dir).summary["verdicts"]}
    otlp = verdicts["otlp_export_success"]
    assert otlp["status"] == "NO DATA", otlp
    assert "between 95.00 % and 100.00 %" in otlp["reason"], otlp


def test_process_sampler_agrees_with_the_agents_own_rss(live: Live) -> None:
    sampler = ProcessSampler(find_processes(live.agent.pid, None))
    sampler.sample_once()
    text = httpx.get(live.agent.metrics_url, trust_env=False).text
    found = re.search(r"^process_resident_memory_bytes (\S+)$", text, re.M)
    assert found is not None
    own = float(found.group(1))
    sampled = sampler.latest()["memory_bytes"]
    assert abs(sampled - own) / own < 0.10, (sampled, own)
    labels = sampler.collected().series["labels"].iloc[0]
    assert f'"pid":"{live.agent.pid}"' in labels


def test_live_polling_and_sampling_during_a_run(live: Live) -> None:
    profile = resolve_profile(_scenario(profile="embedded"))
    server = ServerSide(profile, live.prometheus.url, find_processes(live.agent.pid, None))
    server.check()
    assert server.unreachable == ""
    start_s = time.time()
    with server.observing():
        # Polled in the background: wait for the first answers rather than a fixed time.
        wait_until(
            lambda: re.fullmatch(LIVE_TEXT, server.live_text()),
            "memory and CPU polled live from Prometheus on the progress line",
        )
        sampler = server._sampler
        wait_until(lambda: sampler is not None and sampler.latest(), "a process sample")
    got = server.collect(start_s, time.time())
    sources = set(got.series[got.series["metric"] == "memory_bytes"]["source"])
    assert sources == {"prometheus", "prometheus-live", "process"}


def test_a_promql_syntax_error_is_rejected_naming_the_metric(live: Live) -> None:
    bad = 'rate(process_cpu_seconds_total{job="edge-agent"}[5s] * 100'
    profile = resolve_profile(_scenario(queries={"cpu_percent": bad}))
    server = ServerSide(profile, live.prometheus.url, [])
    with pytest.raises(QueryRejected) as caught:
        server.check()
    text = str(caught.value)
    assert "metric cpu_percent (metrics.queries override)" in text and bad in text
    assert "parse error" in text


def test_every_compose_query_parses_on_a_real_prometheus(live: Live) -> None:
    profile = resolve_profile(_scenario(profile="edge-agent-compose"))
    server = ServerSide(profile, live.prometheus.url, [])
    server.check()  # raises QueryRejected on PromQL Prometheus cannot parse
    assert server.unreachable == ""
    with PrometheusAPI(live.prometheus.url) as api:
        memory = api.instant(profile.queries["memory_bytes"].promql)
    assert float(memory[0]["value"][1]) > 1e6  # the same job name as the embedded stand-in
