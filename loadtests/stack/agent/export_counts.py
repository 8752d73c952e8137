"""What the stand-in's OpenTelemetry SDK did with each item, counted where the SDK decides it.

Per signal: items produced (spans ended, log records emitted, metric points collected), items
whose export finally succeeded or failed (after the exporter's own retries), items sent again
in a retry, and items the batch processors dropped (queue full, or emitted after shutdown).
These are the truth an OTLP export-success verdict is checked against: a refused attempt that a
retry delivered is counted as retried and delivered, never as lost.

Imported only with telemetry on (by otel_sdk), like the SDK itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import requests

__all__ = [
    "NO_COUNTS",
    "AttemptCountingSession",
    "CountedExporter",
    "DropCounter",
    "ExportCounts",
    "count_drops",
]


class ExportCounts(Protocol):
    """Where the counts go (the agent's Prometheus metrics); called from the SDK's threads."""

    def otlp_produced(self, signal: str, items: int) -> None: ...

    def otlp_export(self, signal: str, items: int, ok: bool) -> None: ...

    def otlp_retried(self, signal: str, items: int) -> None: ...

    def otlp_dropped(self, signal: str, items: int, reason: str) -> None: ...


class _NoCounts:
    """Counts nothing."""

    def otlp_produced(self, signal: str, items: int) -> None:
        return None

    def otlp_export(self, signal: str, items: int, ok: bool) -> None:
        return None

    def otlp_retried(self, signal: str, items: int) -> None:
        return None

    def otlp_dropped(self, signal: str, items: int, reason: str) -> None:
        return None


NO_COUNTS: ExportCounts = _NoCounts()


class AttemptCountingSession(requests.Session):
    """The exporter's HTTP session, counting the POSTs (attempts) of the export in progress.

    Each exporter runs its exports one at a time on its own thread, so one counter suffices.
    """

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.attempts += 1
        return super().request(*args, **kwargs)


def items_of(signal: str, batch: Any) -> int:
    """Spans or log records in a batch, or data points in a MetricsData."""
    if signal != "metrics":
        return len(batch)
    return sum(
        len(metric.data.data_points)
        for resource in batch.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )


class CountedExporter:
    """Wraps an exporter: counts each export's items by final outcome, and its retried items.

    The collector's receiver cannot count what never reached it; the exporting side can, so
    an unreachable or stalled collector still shows up as failed exports. Metric points count
    as produced here, when a collection is handed over (the reader has no queue to drop from).
    """

    def __init__(
        self, inner: Any, signal: str, counts: ExportCounts, session: AttemptCountingSession
    ) -> None:
        self._inner = inner
        self._signal = signal
        self._counts = counts
        self._session = session

    def export(self, batch: Any, *args: Any, **kwargs: Any) -> Any:
        items = items_of(self._signal, batch)
        if self._signal == "metrics":
            self._counts.otlp_produced(self._signal, items)
        self._session.attempts = 0
        try:
            result = self._inner.export(batch, *args, **kwargs)
        finally:
            if self._session.attempts > 1:
                self._counts.otlp_retried(self._signal, items * (self._session.attempts - 1))
        self._counts.otlp_export(self._signal, items, result.name == "SUCCESS")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class DropCounter:
    """Stands in for the batch processor's own-metrics hook, to count the items it drops.

    The SDK calls ``drop_items`` for each item it drops: "queue_full" when its queue is full (the
    oldest item goes), "already_shutdown" when an item comes after shutdown.
    """

    def __init__(self, signal: str, on_drop: Callable[[str, int, str], None]) -> None:
        self._signal = signal
        self._on_drop = on_drop

    def register_queue_size(self, get_queue_size: Callable[[], int]) -> None:
        return None

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        self._on_drop(self._signal, count, error_type)

    def finish_items(self, count: int) -> None:
        return None


def count_drops(processor: Any, signal: str, counts: ExportCounts) -> Any:
    """``processor`` (a BatchSpanProcessor or BatchLogRecordProcessor) reporting its drops.

    Raises RuntimeError when the SDK's processor is not built as expected (a newer SDK?), since
    drops that go uncounted would read as items still queued.
    """
    batch = getattr(processor, "_batch_processor", None)
    if batch is None or not hasattr(batch, "_metrics"):
        raise RuntimeError(
            f"{type(processor).__name__} has no _batch_processor._metrics: this OpenTelemetry "
            "SDK version cannot report its dropped items to the stand-in"
        )
    batch._metrics = DropCounter(signal, counts.otlp_dropped)
    return processor
