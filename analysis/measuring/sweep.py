"""One pass over a run's samples, in intended order, feeding every measurement's tally.

The samples are read block by block (``reading.samples``): each measurement adds a block to an
exact, mergeable tally (``measuring.tally``) or to a tally of its own that finishes what a block
leaves open (a second, an outage, a run of late requests). Memory is a block plus the tallies,
whatever the length of the run; the figures are those of all samples at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.measuring.cacheeffect import tally_cache
from analysis.measuring.client import Window, failed_mask, tally_client
from analysis.measuring.goodput import Slo, tally_goodput
from analysis.measuring.outages import Outage, OutageFinder
from analysis.measuring.proxytime import tally_proxy_time
from analysis.measuring.replay import tally_replay
from analysis.measuring.sessions import tally_sessions
from analysis.measuring.stalls import LateRuns
from analysis.measuring.streaming import per_request, streamed_mask, tally_streaming
from analysis.measuring.tally import Tally
from analysis.measuring.timeseries import ErrorsTally, SecondsTally
from analysis.measuring.usage import tally_usage
from analysis.reading.samples import Samples, SampleSpan
from analysis.shapes.spike import seconds_tally
from analysis.shapes.stages import tally_stages


@dataclass(frozen=True)
class SweepPlan:
    """What to measure: the judged window, second 0 of the charts and of the outages, the
    stages, the spike's ranges, the kinds that stream and the goodput thresholds."""

    window: Window | None
    origin_us: int | None
    outage_origin_us: int = 0
    stages: list[dict[str, Any]] = field(default_factory=list)
    spike_ranges: list[tuple[int, int]] = field(default_factory=list)
    stream_kinds: frozenset[str] = frozenset()
    slo: Slo = field(default_factory=Slo)
    replay: bool = False  # a trace replay: tally every row's lag against the trace


@dataclass(frozen=True, eq=False)
class Swept:
    """The finished tallies of one pass (``tally`` holds the client, LLM and stage figures)."""

    span: SampleSpan
    tally: Tally
    per_second: pd.DataFrame | None
    errors: pd.DataFrame | None
    outages: list[Outage]
    late: LateRuns
    spikes: dict[tuple[int, int], SecondsTally]


def sweep(source: Samples, span: SampleSpan, plan: SweepPlan) -> Swept:
    """Read ``source`` once in intended order and tally everything ``plan`` asks for."""
    t = Tally()
    window = plan.window
    seconds = SecondsTally(plan.origin_us) if plan.origin_us is not None else None
    errors = ErrorsTally(plan.origin_us) if plan.origin_us is not None else None
    outages = OutageFinder(plan.outage_origin_us)
    late = LateRuns()
    spikes = {r: seconds_tally(*r) for r in plan.spike_ranges}
    for block in source.ordered():
        failed = failed_mask(block)
        tally_client(block, window, t)
        figures = per_request(block, streamed_mask(block, plan.stream_kinds))
        tally_streaming(block, window, figures, t)
        tally_goodput(block, window, plan.slo, figures, t)
        tally_proxy_time(block, window, figures["streamed"].to_numpy(), t)
        tally_cache(block, window, figures["ttft_us"].to_numpy(), t)
        tally_sessions(block, window, figures["ttft_us"].to_numpy(), t)
        tally_usage(block, window, figures, t)
        tally_stages(block, plan.stages, t)
        if plan.replay:
            tally_replay(block, t)
        for tally in [seconds, *spikes.values()]:
            if tally is not None:
                tally.add(block, failed)
        if errors is not None:
            errors.add(block, failed)
        outages.add(block)
        late.add(block)
    for tally in [seconds, *spikes.values()]:
        if tally is not None:
            tally.finish()
    return Swept(
        span=span,
        tally=t,
        per_second=seconds.frame() if seconds is not None else None,
        errors=errors.frame() if errors is not None else None,
        outages=outages.result(),
        late=late,
        spikes=spikes,
    )


__all__ = ["SweepPlan", "Swept", "sweep"]
