"""Verdicts on a measurement known only as a bound: FAIL only when even the upper bound fails."""

from __future__ import annotations

import math
from dataclasses import replace

from analysis.contract.statuses import FAIL, NO_DATA
from analysis.contract.targets import Target
from analysis.judging.verdicts import Verdict
from analysis.measuring.otlp import OtlpDelivery

OTLP_METRIC = "otlp_export_success"


def otlp_bound_decided(
    verdicts: list[Verdict], targets: dict[str, Target], otlp: OtlpDelivery | None
) -> list[Verdict]:
    """An OTLP export success judged on a lower bound: a FAIL the upper bound meets is NO DATA.

    The lower bound PASSes only when the truth does too, so a PASS stands; a FAIL stands only
    when the upper bound fails as well. Otherwise the counters cannot tell (the run is
    INCOMPLETE), and the reason gives the bound.
    """
    target = targets.get(OTLP_METRIC)
    if otlp is None or target is None or not otlp.bounded:
        return verdicts
    low, high = otlp.measured.value, otlp.high_percent
    out = []
    for verdict in verdicts:
        if verdict.metric != OTLP_METRIC or verdict.status != FAIL or math.isnan(high):
            out.append(verdict)
        elif target.met_by(high):
            reason = (
                f"between {low:.2f} % and {high:.2f} % delivered ({otlp.deciding}): the "
                "collector's counters count refused attempts, not lost items, so they cannot "
                "tell whether the target was met; the agent's own export counters can"
            )
            out.append(replace(verdict, status=NO_DATA, reason=reason))
        else:
            out.append(replace(verdict, reason=f"at most {high:.2f} % delivered"))
    return out


__all__ = ["OTLP_METRIC", "otlp_bound_decided"]
