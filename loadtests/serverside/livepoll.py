"""Server figures while the load runs: the profile's gauges polled from Prometheus, all kept.

The points polled live are a guard: if Prometheus dies during the run, the run still has what
was seen (source "prometheus-live"), and the progress line shows memory and CPU as they go.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from loadtests.errors import PrometheusError
from loadtests.serverside.collector import Collected, Row, frame, harness_failure, labels_json
from loadtests.serverside.promapi import InstantQuery

SOURCE = "prometheus-live"


def _total(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) if finite else math.nan


def live_text(latest: dict[str, float]) -> str:
    """``mem 54 MB  cpu 13 %`` from the latest memory_bytes and cpu_percent values."""
    parts = []
    memory, cpu = latest.get("memory_bytes", math.nan), latest.get("cpu_percent", math.nan)
    if not math.isnan(memory):
        parts.append(f"mem {memory / 1e6:.0f} MB")
    if not math.isnan(cpu):
        parts.append(f"cpu {cpu:.0f} %")
    return "  ".join(parts)


class LivePoller:
    """Polls ``queries`` (instant values) every ``interval_s`` on a thread of its own.

    Under gevent (``edgeperf run`` patches threading) the thread is a greenlet whose network
    waits yield to the hub, so polling never holds back the load's timers.
    """

    def __init__(
        self,
        queries: dict[str, str],
        query: InstantQuery,
        interval_s: float,
        info: dict[str, dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._queries = queries
        self._query = query
        self._interval_s = interval_s
        self._info = info or {}
        self._clock = clock
        self._rows: list[Row] = []
        self._latest: dict[str, float] = {}
        self._errors: dict[str, str] = {}
        self._polls: list[float] = []
        self.failing = ""  # why the last poll got no answer; "" while Prometheus answers
        self.last_answer_s: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> None:
        """One round: every query once; a round stops at the first sign Prometheus is gone."""
        self._polls.append(self._clock())
        for metric, promql in self._queries.items():
            try:
                result = self._query(promql, None)
            except Exception as exc:  # noqa: BLE001 - a failed poll is kept as a reason
                known = isinstance(exc, PrometheusError)
                self._errors[metric] = str(exc) if known else harness_failure(metric, exc)
                if isinstance(exc, PrometheusError) and exc.unreachable:
                    self.failing = str(exc)
                    self._latest.clear()
                    return
                continue
            values = []
            for series in result:
                ts, value = series.get("value") or (self._clock(), "NaN")
                labels = labels_json(series.get("metric", {}))
                self._rows.append((float(ts), metric, SOURCE, labels, float(value)))
                values.append(float(value))
            self._latest[metric] = _total(values)
        self.failing = ""
        self.last_answer_s = self._clock()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self._interval_s)

    def start(self) -> None:
        """Start polling in the background (the first round right away)."""
        self._thread = threading.Thread(target=self._loop, name="edgeperf-live-poll", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop polling and wait for the round in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def latest(self) -> dict[str, float]:
        """The last value of each query (label sets summed; NaN when it had none)."""
        return dict(self._latest)

    def collected(self) -> Collected:
        """Every point polled (source prometheus-live) and one record a query."""
        first = datetime.fromtimestamp(self._polls[0], UTC).isoformat() if self._polls else None
        last = datetime.fromtimestamp(self._polls[-1], UTC).isoformat() if self._polls else None
        records = []
        for metric, promql in self._queries.items():
            points = sum(1 for row in self._rows if row[1] == metric)
            error = self._errors.get(metric)
            status = "ok" if points else ("error" if error else "empty")
            if not points and not error:
                error = "no poll returned a point" if self._polls else "never polled"
            records.append(
                {
                    "metric": metric,
                    "source": SOURCE,
                    "query": promql,
                    **self._info.get(metric, {}),
                    "start": first,
                    "end": last,
                    "step_s": self._interval_s,
                    "status": status,
                    "error": error,  # with status ok: a later poll failed, the points are kept
                    "points": points,
                    "polls": len(self._polls),
                }
            )
        return Collected(series=frame(list(self._rows)), queries=records)


__all__ = ["SOURCE", "LivePoller", "live_text"]
