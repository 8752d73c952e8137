"""Synthetic staged runs with a known truth, for the stage, spike and knee tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tests.analysis.helpers import S_US, T0_US, metadata, samples

# response time in µs of each request, given its intended time in s from the stage's start
Latency = Callable[[np.ndarray], np.ndarray]


def constant_us(value_us: float) -> Latency:
    return lambda t_s: np.full(len(t_s), value_us, dtype=np.int64)


def staged(
    stages: list[tuple[float, float, Latency]],
    errors: Callable[[np.ndarray], np.ndarray] | None = None,
    start_us: int = T0_US,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Samples and metadata ``load.stages`` of constant-rate stages (duration s, rate, latency).

    ``errors`` maps intended times (s from the load's start) to True where the request failed.
    """
    frames, meta, cursor = [], [], start_us
    for duration_s, rate_rps, latency in stages:
        n = int(round(duration_s * rate_rps))
        offsets_s = np.arange(n) / rate_rps
        intended = cursor + (offsets_s * S_US).astype(np.int64)
        response = latency(offsets_s)
        failed = errors((intended - start_us) / S_US) if errors is not None else np.zeros(n, bool)
        frames.append(
            samples(intended, response_us=response, error=np.where(failed, "timeout", ""))
        )
        end = cursor + int(round(duration_s * S_US))
        meta.append(
            {"start_us": cursor, "end_us": end, "start_rps": rate_rps, "end_rps": rate_rps,
             "judge": True}
        )  # fmt: skip
        cursor = end
    return pd.concat(frames, ignore_index=True), meta


def staged_metadata(stage_meta: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """metadata.json content whose load is ``stage_meta`` (all judged)."""
    start, end = stage_meta[0]["start_us"], stage_meta[-1]["end_us"]
    meta = metadata(start_us=start, judge_start_us=start, judge_end_us=end, **extra)
    meta["load"]["stages"] = stage_meta
    meta["load"]["rate_rps"] = max(s["end_rps"] for s in stage_meta)
    return meta
