"""The plan a load generator process follows; JSON-safe, so it travels in Locust's messages."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from loadtests.config.replay import timeline_for
from loadtests.config.scenario import Scenario
from loadtests.engine.mix import Mix, RequestMix
from loadtests.engine.pacing import Arrivals, Schedule, spans_from_stages
from loadtests.engine.tracemix import TraceMix, TraceSchedule, trace_encoder

PREBUILD_MARGIN_S = 0.15  # a trace's requests are built until this long before the start


@dataclass(frozen=True)
class Plan:
    """Everything a worker needs: where, what mix, which schedule, from when."""

    base_url: str
    scenario: dict  # Scenario.model_dump(mode="json"), headers included (never written to disk)
    start_epoch_us: int
    worker_count: int = 1
    locust_stats: bool = False  # feed Locust's statistics (a stand-alone Locust reads them)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls(**json.loads(text))

    def model(self) -> Scenario:
        return Scenario.model_validate(self.scenario)

    def schedule(self, worker_index: int) -> Arrivals:
        """This worker's arrivals: its share of the stages' schedule or of the trace's rows."""
        scenario = self.model()
        if scenario.load.trace is not None:
            timeline = timeline_for(scenario.load.trace)
            return TraceSchedule(timeline.share(worker_index, self.worker_count)[0])
        return build_schedule(scenario, worker_index, self.worker_count)

    def mix(self, worker_index: int, headers: dict[str, str]) -> Mix:
        """This worker's requests: drawn from the mix, or its share of the trace's rows."""
        scenario = self.model()
        host_header = urlsplit(self.base_url).netloc
        trace = scenario.load.trace
        if trace is None:
            return RequestMix(
                scenario.requests, scenario.load.seed, worker_index, host_header, headers
            )
        timeline = timeline_for(trace)
        kind = scenario.trace_kind()
        rows = timeline.share(worker_index, self.worker_count)[1]
        encode = trace_encoder(kind, host_header, headers)
        # Build requests ahead while the schedule has not started, with a margin to spare.
        ahead_s = self.start_epoch_us / 1e6 - time.time() - PREBUILD_MARGIN_S
        return TraceMix(timeline, kind, trace.block_tokens, rows, encode, max(0.0, ahead_s))

    def rate_share_rps(self) -> float:
        """This process's share of the scenario's (steady) rate."""
        return self.model().load.steady_rate_rps() / self.worker_count

    def per_worker_concurrency(self) -> int:
        cap = int(self.scenario["load"]["max_concurrency"])
        return max(1, -(-cap // self.worker_count))


def build_schedule(scenario: Scenario, worker_index: int = 0, worker_count: int = 1) -> Schedule:
    """The arrival schedule of one worker for the scenario's stages."""
    load = scenario.load
    stages = [
        (s.duration, s.rate_rps if s.start_rps is None else s.start_rps, s.rate_rps, s.judge)
        for s in load.resolved_stages()
    ]
    return Schedule(
        spans=spans_from_stages(stages),
        arrival=load.arrival,
        burstiness=load.burstiness,
        seed=load.seed,
        worker_index=worker_index,
        worker_count=worker_count,
    )


__all__ = ["Plan", "build_schedule"]
