"""Server-side measurement of one run: queries checked before the load, live poll and process
sampler during it, the final pull from Prometheus after it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import psutil

from loadtests.config.profiles import Profile
from loadtests.config.scenario import ProcessSpec
from loadtests.serverside.collector import (
    Collected,
    collect_instant,
    collect_range,
    merge,
    skipped,
    validate_queries,
)
from loadtests.serverside.livepoll import LivePoller, live_text
from loadtests.serverside.procsampler import ProcessSampler, find_processes
from loadtests.serverside.promapi import PrometheusAPI

MIN_POLL_S = 2.0  # live polls never come more often than this, whatever the scrape interval
CHECK_WINDOW_S = 60.0  # the $window a counter query is checked with before the load
LIVE_TIMEOUT_S = 2.0
PULL_TIMEOUT_S = 10.0

ApiFactory = Callable[[str, float], PrometheusAPI]


def processes_for(spec: ProcessSpec, default_pid: int | None) -> list[psutil.Process]:
    """The processes to sample: the scenario's pid or name, else ``default_pid`` (if any)."""
    if spec.pid is None and spec.name is None:
        return find_processes(default_pid, None) if default_pid else []
    return find_processes(spec.pid, spec.name)


class ServerSide:
    """One run's server-side sources; ``notes`` says what a reader of the results must know."""

    def __init__(
        self,
        profile: Profile,
        prometheus_url: str | None,
        processes: list[psutil.Process],
        api: ApiFactory = PrometheusAPI,
    ) -> None:
        self.profile = profile
        self.prometheus_url = prometheus_url
        self._processes = processes
        self._api = api
        self.unreachable = ""  # why Prometheus did not answer before the load
        self.notes: list[str] = []
        self._poller: LivePoller | None = None
        self._sampler: ProcessSampler | None = None

    @property
    def settle_s(self) -> float:
        # Nothing will be pulled from a Prometheus that did not answer: no point waiting for it.
        return self.profile.settle_s if self.prometheus_url and not self.unreachable else 0.0

    def _info(self) -> dict[str, dict[str, Any]]:
        return {
            metric: {
                "kind": q.kind,
                "unit": q.unit,
                "profile": self.profile.name,
                "overridden": q.overridden,
            }
            for metric, q in self.profile.queries.items()
        }

    def check(self) -> None:
        """Ask Prometheus every query once; QueryRejected (exit 2) on PromQL it cannot parse."""
        if self.prometheus_url is None:
            return
        origins = {
            m: "metrics.queries override" if q.overridden else f"profile {self.profile.path}"
            for m, q in self.profile.queries.items()
        }
        queries = {m: q.rendered(CHECK_WINDOW_S) for m, q in self.profile.queries.items()}
        with self._api(self.prometheus_url, PULL_TIMEOUT_S) as api:
            self.unreachable = validate_queries(queries, api.instant, origins)
        if self.unreachable:
            self.notes.append(
                f"{self.unreachable} before the load; the load went ahead and the server-side "
                "rows are NO DATA"
            )

    @contextlib.contextmanager
    def observing(self) -> Iterator[None]:
        """Poll Prometheus and sample the processes in the background while the body runs."""
        gauges = {m: q.promql for m, q in self.profile.gauges().items()}
        live_api = None
        if self.prometheus_url and not self.unreachable and gauges:
            live_api = self._api(self.prometheus_url, LIVE_TIMEOUT_S)
            interval_s = max(MIN_POLL_S, self.profile.scrape_interval_s)
            self._poller = LivePoller(gauges, live_api.instant, interval_s, self._info())
            self._poller.start()
        if self._processes:
            self._sampler = ProcessSampler(self._processes)
            self._sampler.start()
        try:
            yield
        finally:
            if self._poller is not None:
                self._poller.stop()
            if self._sampler is not None:
                self._sampler.stop()
            if live_api is not None:
                live_api.close()

    def live_text(self) -> str:
        """Memory and CPU for the progress line: from Prometheus, else the process sampler."""
        text, note = "", ""
        if self._poller is not None:
            note = "prometheus: no answer" if self._poller.failing else ""
            text = "" if note else live_text(self._poller.latest())
        if not text and self._sampler is not None:
            text = live_text(self._sampler.latest())
            text = f"{text} (process)" if text else ""
        return "  ".join(part for part in (text, note) if part)

    def collect(self, start_s: float, end_s: float) -> Collected:
        """The final pull over [start_s, end_s] plus every live and sampled point."""
        info = self._info()
        gauges = {m: q.promql for m, q in self.profile.gauges().items()}
        counters = {m: q.rendered(end_s - start_s) for m, q in self.profile.counters().items()}
        every = {**gauges, **counters}
        if self.prometheus_url is None:
            parts = [skipped(every, "no Prometheus URL given (--prometheus)", info=info)]
        elif self.unreachable:
            # the sentence naming Prometheus, its address and what it did: the NO DATA reason
            parts = [skipped(every, self.unreachable, status="error", info=info)]
        else:
            step_s = self.profile.scrape_interval_s
            with self._api(self.prometheus_url, PULL_TIMEOUT_S) as api:
                parts = [
                    collect_range(gauges, start_s, end_s, step_s, api.range, info),
                    collect_instant(counters, start_s, end_s, api.instant, info),
                ]
            self._note_lost(parts, start_s)
        for source in (self._poller, self._sampler):
            if source is not None:
                parts.append(source.collected())
        collected = merge(*parts)
        self.notes += [
            f"process sampler: {r['error']}"
            for r in collected.queries
            if r["source"] == "process" and r["status"] == "error" and r["metric"] == "memory_bytes"
        ]
        return collected

    def _note_lost(self, parts: list[Collected], start_s: float) -> None:
        failed = [r for part in parts for r in part.queries if r["status"] == "error"]
        if not failed:
            return
        seen = ""
        if self._poller is not None and self._poller.last_answer_s is not None:
            points = len(self._poller.collected().series)
            seen = (
                f"; its last answer came at +{self._poller.last_answer_s - start_s:.1f} s and the "
                f"{points} point(s) polled live are kept (source prometheus-live)"
            )
        self.notes.append(
            f"the final pull from Prometheus failed for {len(failed)} of "
            f"{sum(len(p.queries) for p in parts)} queries ({failed[0]['error']}){seen}"
        )


__all__ = ["ServerSide", "processes_for"]
