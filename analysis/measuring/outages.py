"""Outages seen from the client: stretches of the schedule in which every request failed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_OUTAGE_REQUESTS = 10


@dataclass(frozen=True)
class Outage:
    """Consecutive requests (by intended send time) that all failed; times in s from ``origin``."""

    start_s: float
    end_s: float
    requests: int
    errors_by_class: dict[str, int]
    recovered_s: float | None  # intended time of the first success after it, if any

    def describe(self) -> str:
        classes = ", ".join(f"{name} ×{n}" for name, n in self.errors_by_class.items())
        text = (
            f"target failing from {self.start_s:.2f} s to {self.end_s:.2f} s: "
            f"all {self.requests} requests failed ({classes})"
        )
        if self.recovered_s is None:
            return text + "; it had not recovered by the end of the run"
        return text + f"; first success again at {self.recovered_s:.2f} s"


class OutageFinder:
    """Runs of at least ``min_requests`` consecutive failures; blocks arrive in intended order.

    A run still going at the end of a block carries on into the next (its first and last
    intended time, length and error counts), so memory is one block, not the run.
    """

    def __init__(self, origin_us: int, min_requests: int = MIN_OUTAGE_REQUESTS) -> None:
        self.origin_us, self.min_requests = origin_us, min_requests
        self.outages: list[Outage] = []
        self._open: tuple[int, int, int, dict[str, int]] | None = None  # first, last, n, classes

    def add(self, ordered: pd.DataFrame) -> None:
        if not len(ordered):
            return
        errors = ordered["error"].astype(str).to_numpy()
        failed = errors != ""
        intended = ordered["intended_us"].to_numpy()
        edges = np.diff(np.concatenate(([0], failed.astype(np.int8), [0])))
        starts = list(np.flatnonzero(edges == 1))
        ends = list(np.flatnonzero(edges == -1))  # exclusive
        if self._open is not None and (not starts or starts[0] > 0):
            self._close(intended[0])  # the first request of this block succeeded
        for start, end in zip(starts, ends, strict=True):
            counts = pd.Series(errors[start:end]).value_counts(sort=False)
            classes = {str(k): int(v) for k, v in counts.items()}
            first, n = int(intended[start]), int(end - start)
            if self._open is not None:  # continues the run the last block ended in
                first, _, before, known = self._open
                n += before
                classes = {**known, **{k: known.get(k, 0) + v for k, v in classes.items()}}
            self._open = (first, int(intended[end - 1]), n, classes)
            if end < len(intended):
                self._close(intended[end])

    def _close(self, recovered_us: int | None) -> None:
        assert self._open is not None
        first, last, n, classes = self._open
        self._open = None
        if n < self.min_requests:
            return
        ordered = pd.Series(classes).sort_values(ascending=False)
        self.outages.append(
            Outage(
                start_s=(first - self.origin_us) / 1e6,
                end_s=(last - self.origin_us) / 1e6,
                requests=n,
                errors_by_class={str(k): int(v) for k, v in ordered.items()},
                recovered_s=None if recovered_us is None else (recovered_us - self.origin_us) / 1e6,
            )
        )

    def result(self) -> list[Outage]:
        """The outages, once every block is in (a run still going has not recovered)."""
        if self._open is not None:
            self._close(None)
        return self.outages


def find_outages(
    samples: pd.DataFrame, origin_us: int, min_requests: int = MIN_OUTAGE_REQUESTS
) -> list[Outage]:
    """Runs of at least ``min_requests`` consecutive failures, in intended-send order."""
    finder = OutageFinder(origin_us, min_requests)
    finder.add(samples.sort_values("intended_us", kind="stable"))
    return finder.result()


__all__ = ["MIN_OUTAGE_REQUESTS", "Outage", "OutageFinder", "find_outages"]
