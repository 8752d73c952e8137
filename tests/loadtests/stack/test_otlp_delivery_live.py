"""OTLP export success against the stand-in's ground truth, on one stack with Prometheus.

Each case changes the receiver's faults, sends requests, waits until the agent's SDK has settled
every item (delivered, failed or dropped) and Prometheus has scraped that, then judges the
embedded profile's queries over exactly the case's window, as a run does (collect_instant,
measure_server, the verdict). The truth is the agent's own counts read from its /metrics page
before and after; the delivered spans are also checked against what the receiver accepted.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from analysis.contract.targets import Target
from analysis.judging.bounds import otlp_bound_decided
from analysis.judging.verdicts import Verdict, judge_one
from analysis.measuring.serverside import ServerMeasurements, measure_server
from loadtests.config.profiles import resolve_profile
from loadtests.config.scenario import Scenario
from loadtests.serverside.collector import collect_instant
from loadtests.serverside.promapi import PrometheusAPI
from loadtests.stack.agent.config import AgentConfig
from loadtests.stack.launchers.launch import (
    AgentProcess,
    ReceiverProcess,
    start_agent,
    start_otlp_receiver,
    start_prometheus,
)
from loadtests.stack.otlp.config import ReceiverConfig
from tests.loadtests.conftest import wait_until
from tests.loadtests.stack.test_otlp_receiver_live import receiver_counts

pytestmark = pytest.mark.live

# Small span batches and a small queue, so a short stall overflows it; a 2 s export timeout, so
# a dead receiver fails exports fast; metric points only at shutdown, so each window's counts
# settle (the metric reader would export every interval, idle or not).
SDK_ENV = {
    "OTEL_BSP_SCHEDULE_DELAY": "20",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "16",
    "OTEL_BSP_MAX_QUEUE_SIZE": "64",
    "OTEL_METRIC_EXPORT_INTERVAL": "3600000",
    "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
}
TARGET = Target.parse("> 99.9")
FIGURES = {
    "produced": ("edge_agent_otlp_produced_items_total", {}),
    "delivered": ("edge_agent_otlp_export_items_total", {"outcome": "success"}),
    "failed": ("edge_agent_otlp_export_items_total", {"outcome": "failure"}),
    "dropped": ("edge_agent_otlp_dropped_items_total", {}),
    "retried": ("edge_agent_otlp_retried_items_total", {}),
}


@dataclass
class Stand:
    agent: AgentProcess
    receiver: ReceiverProcess
    prometheus: PrometheusAPI

    def faults(self, **changes: object) -> None:
        answer = httpx.post(f"{self.receiver.url}/admin/faults", json=changes, trust_env=False)
        assert answer.status_code == 200, answer.text

    def chat(self, requests: int, errors: int = 0) -> None:
        """``requests`` chat completions (a span each), ``errors`` 404s (a span and a log each)."""
        with httpx.Client(base_url=self.agent.url, trust_env=False) as client:
            for _ in range(requests):
                prompt = {"role": "user", "content": uuid.uuid4().hex}
                body = {"model": "gpt-4o-mini", "messages": [prompt]}
                assert client.post("/v1/chat/completions", json=body).status_code == 200
            for _ in range(errors):
                assert client.get("/v1/nowhere").status_code == 404


def agent_counts(agent: AgentProcess) -> dict[str, dict[str, float]]:
    """Signal -> figure -> items, from the agent's /metrics page: the ground truth."""
    text = httpx.get(agent.metrics_url, trust_env=False).text
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    out: dict[str, dict[str, float]] = {}
    for figure, (name, labels) in FIGURES.items():
        for sample in samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                signal = out.setdefault(sample.labels["signal"], {})
                signal[figure] = signal.get(figure, 0.0) + sample.value
    return out


def settled(counts: dict[str, dict[str, float]]) -> bool:
    return all(
        c["produced"] == c["delivered"] + c["failed"] + c["dropped"] for c in counts.values()
    )


def truth_percent(before: dict, after: dict) -> tuple[float, dict[str, dict[str, float]]]:
    """The worst signal's delivered / produced between two readings, and the deltas."""
    deltas = {
        signal: {figure: after[signal][figure] - before[signal][figure] for figure in FIGURES}
        for signal in after
    }
    shares = [100 * d["delivered"] / d["produced"] for d in deltas.values() if d["produced"]]
    return (min(shares) if shares else math.nan), deltas


AGENT_TOTAL = " + ".join(
    f'sum({name}{{job="edge-agent"}})' for name in sorted({name for name, _ in FIGURES.values()})
)
RECEIVER_TOTAL = (  # not the *_created series prometheus_client adds beside each counter
    'sum({__name__=~"otelcol_receiver_(accepted|refused)_.*_total",job="otlp-collector"})'
)


def _total(stand: Stand, promql: str) -> float | None:
    result = stand.prometheus.instant(promql)
    return float(result[0]["value"][1]) if result else None


def scraped(stand: Stand, counts: dict[str, dict[str, float]]) -> bool:
    """Whether Prometheus's latest samples of both jobs hold these settled counts."""
    agent = sum(value for figures in counts.values() for value in figures.values())
    if _total(stand, AGENT_TOTAL) != agent:
        return False
    if not stand.receiver.running():
        return True
    receiver = sum(
        v for k, v in receiver_counts(stand.receiver.metrics_url).items() if "bytes" not in k
    )
    return _total(stand, RECEIVER_TOTAL) == receiver


def settle(stand: Stand) -> tuple[float, dict[str, dict[str, float]]]:
    """Wait until every item is settled and Prometheus has scraped that: (a time after, counts)."""

    def settled_counts() -> dict[str, dict[str, float]] | None:
        counts = agent_counts(stand.agent)
        return counts if settled(counts) else None

    counts = wait_until(settled_counts, "every item delivered, failed or dropped")
    wait_until(lambda: scraped(stand, counts), "Prometheus to scrape the settled counts")
    return time.time(), counts


def judge_window(
    stand: Stand, start_s: float, scraped_s: float
) -> tuple[Verdict, ServerMeasurements]:
    """The embedded profile's OTLP counters over [start_s, start_s + whole seconds], judged.

    The window ends at or after ``scraped_s``, so the last samples in it hold the settled counts.
    """
    window_s = math.ceil(scraped_s - start_s)
    at_s = start_s + window_s
    wait_until(lambda: time.time() >= at_s, "the window's end")
    scenario = Scenario.model_validate(
        {"name": "t", "requests": [{"kind": "h", "weight": 1, "path": "/health"}]}
    )
    counters = resolve_profile(scenario).counters()
    queries = {m: q.rendered(window_s) for m, q in counters.items() if m.startswith("otlp_")}
    info = {m: {"kind": "counter"} for m in queries}
    collected = collect_instant(queries, start_s, at_s, stand.prometheus.instant, info)
    assert {q["status"] for q in collected.queries} <= {"ok", "empty"}, collected.queries
    server = measure_server(collected.series, tuple(collected.queries), None)
    verdict = judge_one("otlp_export_success", TARGET, server.otlp_success_percent)
    targets = {"otlp_export_success": TARGET}
    return otlp_bound_decided([verdict], targets, server.otlp)[0], server


@dataclass
class Case:
    verdict: Verdict
    server: ServerMeasurements
    truth_percent: float
    truth: dict[str, dict[str, float]]  # signal -> figure -> items, from the agent's /metrics
    accepted_spans: float  # by the receiver, in the window
    refused_spans: float

    def figure(self, signal: str, name: str) -> float | None:
        assert self.server.otlp is not None
        for delivery in self.server.otlp.signals:
            if delivery.signal == signal:
                return delivery.counts.get(name)
        return None


def case(stand: Stand, drive: Callable[[], None]) -> Case:
    """Run ``drive`` in a window of its own: the verdict and the truth of that window."""
    scraped_s, before = settle(stand)
    # The last scrape at or before start_s came after the counts settled: the window's baseline.
    start_s = time.time()
    spans_before = _receiver_spans(stand)
    drive()
    scraped_s, after = settle(stand)
    accepted, refused = (a - b for a, b in zip(_receiver_spans(stand), spans_before, strict=True))
    verdict, server = judge_window(stand, start_s, scraped_s)
    truth, deltas = truth_percent(before, after)
    return Case(verdict, server, truth, deltas, accepted, refused)


def _receiver_spans(stand: Stand) -> tuple[float, float]:
    if not stand.receiver.running():
        return 0.0, 0.0
    counts = receiver_counts(stand.receiver.metrics_url)
    return (
        counts["otelcol_receiver_accepted_spans_total"],
        counts["otelcol_receiver_refused_spans_total"],
    )


@pytest.fixture(scope="module")
def stand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stand]:
    work = tmp_path_factory.mktemp("otlp-delivery")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SDK_ENV.items():
            patch.setenv(name, value)
        with (
            start_otlp_receiver(ReceiverConfig(), work / "otlp") as receiver,
            start_agent(AgentConfig(telemetry=True, otlp_endpoint=receiver.url), work) as agent,
        ):
            jobs = {
                "edge-agent": f"127.0.0.1:{agent.metrics_port}",
                "otlp-collector": f"127.0.0.1:{receiver.metrics_port}",
            }
            with (
                start_prometheus(jobs, work / "prometheus") as prometheus,
                PrometheusAPI(prometheus.url) as api,
            ):
                yield Stand(agent, receiver, api)


def _near(case: Case) -> None:
    assert case.verdict.measured is not None, case.verdict
    counted = [s.as_dict() for s in case.server.otlp.signals] if case.server.otlp else None
    why = f"{case.verdict.source}\ntruth {case.truth}\ncounted {counted}"
    assert abs(case.verdict.measured - case.truth_percent) <= 0.1, why


def test_export_success_matches_the_stand_ins_truth_case_by_case(stand: Stand) -> None:
    # One test, so that one stack (Prometheus takes ~5 s to start) serves every case in order;
    # the receiver goes down in the last.
    clean = case(stand, lambda: stand.chat(150, errors=10))
    _near(clean)
    assert clean.truth_percent == 100.0 and clean.verdict.status == "PASS", clean.verdict
    assert clean.truth["traces"]["produced"] == 160 == clean.accepted_spans
    assert clean.truth["logs"]["produced"] == 10 == clean.figure("logs", "delivered")

    # 5 % of attempts refused; Retry-After: 0 makes the SDK retry at once (up to 6 attempts).
    def refused_then_retried() -> None:
        stand.faults(refuse_fraction=0.05, retry_after_s=0)
        while _receiver_spans(stand)[1] == refused_before:  # until one refusal, surely soon
            stand.chat(50)

    refused_before = _receiver_spans(stand)[1]
    retried = case(stand, refused_then_retried)
    _near(retried)
    assert retried.truth_percent == 100.0 and retried.verdict.status == "PASS", retried.verdict
    assert (
        retried.refused_spans > 0 and retried.figure("traces", "refused") == retried.refused_spans
    )
    # No batch exhausted its retries: each refused attempt was retried once.
    assert retried.figure("traces", "retried") == retried.truth["traces"]["retried"]
    assert retried.truth["traces"]["retried"] == retried.refused_spans
    assert "traces" in retried.verdict.source or "logs" in retried.verdict.source

    # Every attempt refused while 40 requests are answered: those spans exhaust their retries.
    def exhausted_then_delivered() -> None:
        failed = agent_counts(stand.agent)["traces"]["failed"] + 40
        stand.faults(refuse_fraction=1.0, retry_after_s=0)
        stand.chat(40)
        gone = lambda: agent_counts(stand.agent)["traces"]["failed"] == failed  # noqa: E731
        wait_until(gone, "the refused spans to fail")
        stand.faults(refuse_fraction=0.0)
        stand.chat(120)

    lost = case(stand, exhausted_then_delivered)
    _near(lost)
    traces = lost.truth["traces"]
    assert traces["failed"] == 40 and traces["delivered"] == 120 == lost.accepted_spans
    assert lost.truth_percent == pytest.approx(75.0) and lost.verdict.status == "FAIL"
    # The receiver saw each lost span refused 6 times: an attempt-level ratio would say 33 %.
    assert lost.refused_spans == 6 * 40

    # The receiver holds exports for 1.5 s: the 64-span queue overflows and the SDK drops spans.
    def stalled() -> None:
        stand.faults(stall_for_s=1.5)
        stand.chat(200)

    overflow = case(stand, stalled)
    _near(overflow)
    assert overflow.truth["traces"]["dropped"] > 50, overflow.truth
    assert overflow.figure("traces", "dropped") == overflow.truth["traces"]["dropped"]
    assert overflow.verdict.status == "FAIL" and "traces decided" in overflow.verdict.source

    # The receiver down for the whole window: every export fails, nothing is delivered.
    stand.receiver.stop()
    down = case(stand, lambda: stand.chat(20))
    _near(down)
    assert down.truth_percent == 0.0 and down.verdict.measured == 0.0, down.verdict
    assert down.truth["traces"]["failed"] == 20
