"""An interrupted run is judged over the part of its steady window that ran, and says how much.

metadata.json holds the planned schedule (``load.end_us``, ``judge_end_us``); an interrupted run
(``outcome: "interrupted"``) stopped earlier, and judged over the planned window its rate would be
requests / planned seconds: 2 s of 200 req/s over a 60 s window reads 6.7 req/s, a FAIL. The
samples say when the load stopped: the generator schedules nothing after a stop, so the load ran
until just after the last intended send time. Pure functions of the metadata and the samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from analysis.measuring.client import US_PER_S, Measured, Window, span_of
from analysis.reading.samples import SampleSpan


@dataclass(frozen=True)
class RanWindow:
    """The judged window as far as it ran, and the sentence saying so ("" when it ran whole).

    ``window`` is None when the run was interrupted before its steady window began; then
    ``note`` is the reason every verdict is NO DATA.
    """

    window: Window | None
    note: str = ""

    @property
    def nothing_judged(self) -> bool:
        return self.window is None and bool(self.note)


def stopped_us(metadata: dict[str, Any], samples: pd.DataFrame | SampleSpan) -> int | None:
    """When an interrupted run's load stopped (epoch µs); None for a run not interrupted.

    Just after its last intended send time; the load's start when it sent nothing.
    """
    if metadata.get("outcome") != "interrupted":
        return None
    span = span_of(samples)
    if span.rows:
        return int(span.last_intended_us or 0) + 1
    start = (metadata.get("load") or {}).get("start_us")
    return int(start) if isinstance(start, int | float) else None


def _seconds(value_s: float) -> str:
    return f"{value_s:.1f}" if value_s >= 0.1 else f"{value_s:.3f}"


def ran_window(
    metadata: dict[str, Any], samples: pd.DataFrame | SampleSpan, window: Window | None
) -> RanWindow:
    """``window`` cut where an interrupted run stopped, with the sentence saying how much ran."""
    stop = stopped_us(metadata, samples)
    if window is None or stop is None or stop >= window.end_us:
        return RanWindow(window)
    planned_s = window.duration_s
    if stop <= window.start_us:
        start = (metadata.get("load") or {}).get("start_us")
        into = (
            f" {_seconds((stop - start) / US_PER_S)} s into the load"
            if isinstance(start, int) and span_of(samples).rows
            else ""
        )
        return RanWindow(
            None,
            f"the run was interrupted{into}, before its {planned_s:g} s steady window began; "
            "nothing was judged",
        )
    cut = replace(window, end_us=stop, source=f"{window.source}, cut where the run was interrupted")
    return RanWindow(
        cut,
        f"judged over {_seconds(cut.duration_s)} s of the planned {planned_s:g} s steady window; "
        "the run was interrupted",
    )


def unjudged(measured: dict[str, Measured], reason: str) -> dict[str, Measured]:
    """Every measurement as NaN with ``reason``: the verdicts are NO DATA, never PASS."""
    return {metric: Measured(math.nan, m.source, reason) for metric, m in measured.items()}


__all__ = ["RanWindow", "ran_window", "stopped_us", "unjudged"]
