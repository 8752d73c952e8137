"""The stand-in's Prometheus metrics, on a registry of its own, with a cheap per-request hook."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

__all__ = ["DURATION_BUCKETS_S", "OTLP_SIGNALS", "AgentMetrics"]

DURATION_BUCKETS_S = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
# Model names come from clients; past this many distinct ones they are counted as "other" so a
# misbehaving client cannot grow the series without bound.
MAX_MODEL_LABELS = 64
OTLP_SIGNALS = ("traces", "metrics", "logs")


class AgentMetrics:
    """Counters, histogram and gauges of the Edge-Agent's metric names, plus process metrics."""

    def __init__(self, registry: CollectorRegistry, *, max_model_labels: int = MAX_MODEL_LABELS):
        self.registry = registry
        self._requests = Counter(
            "edge_agent_requests",
            "Requests answered, by model, HTTP status and route.",
            ["model", "status", "path"],
            registry=registry,
        )
        self._duration_s = Histogram(
            "edge_agent_request_duration_seconds",
            "Time from a complete request to its response, by route.",
            ["path"],
            buckets=DURATION_BUCKETS_S,
            registry=registry,
        )
        self.cache_hits = Counter(
            "edge_agent_cache_hits", "Chat completions answered from the cache.", registry=registry
        )
        self.cache_misses = Counter(
            "edge_agent_cache_misses", "Chat completions sent upstream.", registry=registry
        )
        self.cache_l2_hits = Counter(
            "edge_agent_cache_l2_hits",
            "Cache hits answered from the L2 (Redis) cache; also counted in cache hits.",
            registry=registry,
        )
        self.cache_l2_errors = Counter(
            "edge_agent_cache_l2_errors",
            "L2 (Redis) lookups or writes that failed; a failed lookup is answered as a miss.",
            registry=registry,
        )
        # What became of each OTLP item (span, metric point, log record): the truth an export
        # success verdict is checked against (loadtests/stack/agent/export_counts.py).
        self._otlp_produced = Counter(
            "edge_agent_otlp_produced_items",
            "OTLP items the agent's SDK was given: spans ended, log records emitted, metric "
            "points collected for export, by signal.",
            ["signal"],
            registry=registry,
        )
        self._otlp_items = Counter(
            "edge_agent_otlp_export_items",
            "OTLP items (spans, metric points, log records) the agent exported, by signal and "
            "final outcome after the SDK's own retries.",
            ["signal", "outcome"],
            registry=registry,
        )
        self._otlp_retried = Counter(
            "edge_agent_otlp_retried_items",
            "OTLP items sent again by a retry of an export (after a 429/502/503/504 or a "
            "connection error), by signal.",
            ["signal"],
            registry=registry,
        )
        self._otlp_dropped = Counter(
            "edge_agent_otlp_dropped_items",
            "OTLP items the SDK's batch processors dropped unexported, by signal and reason "
            "(queue_full, already_shutdown).",
            ["signal", "reason"],
            registry=registry,
        )
        # Every series exists from the start, so a window's delta is exact; the per-request
        # produced children are kept, as label lookups cost more than the increments.
        self._produced = {signal: self._otlp_produced.labels(signal) for signal in OTLP_SIGNALS}
        for signal in OTLP_SIGNALS:
            self._otlp_retried.labels(signal)
            for outcome in ("success", "failure"):
                self._otlp_items.labels(signal, outcome)
            for reason in ("queue_full", "already_shutdown"):
                self._otlp_dropped.labels(signal, reason)
        self._cache_entries = Gauge(
            "edge_agent_cache_entries", "Responses held in the cache.", registry=registry
        )
        ProcessCollector(registry=registry)
        self._max_model_labels = max_model_labels
        self._models: set[str] = set()
        # Label lookups cost more than the increments; keep the children per label set.
        self._children: dict[tuple[str, int, str], tuple[Counter, Histogram]] = {}

    def otlp_produced(self, signal: str, items: int) -> None:
        """Count items handed to the SDK (called from request handling and the SDK's threads)."""
        self._produced[signal].inc(items)

    def otlp_export(self, signal: str, items: int, ok: bool) -> None:
        """Count one export's items by outcome (called from the SDK's export threads)."""
        self._otlp_items.labels(signal, "success" if ok else "failure").inc(items)

    def otlp_retried(self, signal: str, items: int) -> None:
        """Count items sent again by retries of one export."""
        self._otlp_retried.labels(signal).inc(items)

    def otlp_dropped(self, signal: str, items: int, reason: str) -> None:
        """Count items the SDK dropped unexported, for ``reason``."""
        self._otlp_dropped.labels(signal, reason).inc(items)

    def track_cache_entries(self, size: Callable[[], int]) -> None:
        """Report ``size()`` as the cache-entries gauge at each scrape."""
        self._cache_entries.set_function(lambda: float(size()))

    def observe(self, model: str, status: int, path: str, duration_s: float) -> None:
        """Count one answered request and record how long it took."""
        key = (model, status, path)
        children = self._children.get(key)
        if children is None:
            children = self._children_for(key)
        children[0].inc()
        children[1].observe(duration_s)

    def _children_for(self, key: tuple[str, int, str]) -> tuple[Counter, Histogram]:
        model, status, path = key
        admitted = model in self._models or len(self._models) < self._max_model_labels
        if admitted:
            self._models.add(model)
        children = (
            self._requests.labels(
                model=model if admitted else "other", status=str(status), path=path
            ),
            self._duration_s.labels(path=path),
        )
        if admitted:
            self._children[key] = children
        return children

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)
