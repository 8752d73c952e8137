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


def find_outages(
    samples: pd.DataFrame, origin_us: int, min_requests: int = MIN_OUTAGE_REQUESTS
) -> list[Outage]:
    """Runs of at least ``min_requests`` consecutive failures, in intended-send order."""
    if samples.empty:
        return []
    ordered = samples.sort_values("intended_us", kind="stable")
    failed = (ordered["error"].astype(str) != "").to_numpy()
    if not failed.any():
        return []
    edges = np.diff(np.concatenate(([0], failed.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)  # exclusive
    intended = ordered["intended_us"].to_numpy()
    errors = ordered["error"].astype(str).to_numpy()
    outages = []
    for start, end in zip(starts, ends, strict=True):
        if end - start < min_requests:
            continue
        counts = pd.Series(errors[start:end]).value_counts()
        recovered = (intended[end] - origin_us) / 1e6 if end < len(intended) else None
        outages.append(
            Outage(
                start_s=(intended[start] - origin_us) / 1e6,
                end_s=(intended[end - 1] - origin_us) / 1e6,
                requests=int(end - start),
                errors_by_class={str(k): int(v) for k, v in counts.items()},
                recovered_s=recovered,
            )
        )
    return outages


__all__ = ["MIN_OUTAGE_REQUESTS", "Outage", "find_outages"]
