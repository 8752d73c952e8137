"""Tolerances and the four verdicts of a compared metric: BETTER, SAME, WORSE, INCONCLUSIVE.

A tolerance is how far B may move from A before it matters: ``max(relative × |A|, absolute)``
in the metric's unit, written ``10%`` (relative to A), ``2`` (absolute) or ``10%,2`` (both, the
larger wins). With the interval [low, high] of B − A turned so that positive is worse (latency,
errors, memory and CPU up; request rate down) and t the tolerance:

- WORSE: low > +t, the whole interval is beyond +t;
- BETTER: high < −t, the whole interval is below −t;
- SAME: −t ≤ low and high ≤ +t, the whole interval is within ±t;
- INCONCLUSIVE: otherwise (the interval straddles +t or −t: the runs cannot tell);
- NO DATA: one run lacks the metric, or it has too little to resample.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from analysis.compare.bootstrap import Interval
from analysis.overhead.stats import INCONCLUSIVE, NO_DATA

BETTER, SAME, WORSE = "BETTER", "SAME", "WORSE"
VERDICTS = (WORSE, INCONCLUSIVE, BETTER, SAME, NO_DATA)
_PART = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*$")


class ToleranceError(ValueError):
    """A ``--tolerance`` the comparison cannot use (the message names it and the forms)."""


@dataclass(frozen=True)
class Tolerance:
    """``max(relative × |A|, absolute)``; ``text`` is the canonical form (``10%,2``)."""

    relative: float = 0.0
    absolute: float = 0.0

    @classmethod
    def parse(cls, text: str, what: str = "tolerance") -> Tolerance:
        relative = absolute = None
        for part in str(text).split(","):
            match = _PART.match(part)
            if match is None:
                raise ToleranceError(
                    f"{what}: {text!r} is not a tolerance; write 10% (relative to A), 2 "
                    "(absolute, in the metric's unit) or 10%,2 (the larger of both)"
                )
            number = float(match.group(1))
            if match.group(2):
                relative = number / 100 if relative is None else _twice(what, text)
            else:
                absolute = number if absolute is None else _twice(what, text)
        return cls(relative or 0.0, absolute or 0.0)

    @property
    def text(self) -> str:
        parts = [f"{self.relative * 100:g}%"] if self.relative else []
        if self.absolute or not parts:
            parts.append(f"{self.absolute:.15g}")
        return ",".join(parts)

    def of(self, baseline: float) -> float:
        """The tolerance in the metric's unit, around a baseline value (NaN when it is NaN)."""
        if math.isnan(baseline):
            return math.nan
        return max(self.relative * abs(baseline), self.absolute)


def _twice(what: str, text: str) -> float:
    raise ToleranceError(f"{what}: {text!r} gives the same kind of tolerance twice")


def judge_delta(interval: Interval, tolerance: float, higher_is_worse: bool = True) -> str:
    """The verdict of one metric's interval of B − A against ``tolerance`` (see the docstring)."""
    low, high = interval.low, interval.high
    if any(math.isnan(x) for x in (low, high, tolerance)):
        return NO_DATA
    if not higher_is_worse:
        low, high = -high, -low
    if low > tolerance:
        return WORSE
    if high < -tolerance:
        return BETTER
    if -tolerance <= low and high <= tolerance:
        return SAME
    return INCONCLUSIVE


def overall_verdict(verdicts: list[str]) -> str:
    """WORSE if any metric is, else INCONCLUSIVE if any is, else BETTER if any is, else SAME.

    NO DATA rows do not count; with nothing else it is NO DATA (the runs cannot be judged).
    """
    judged = [v for v in verdicts if v != NO_DATA]
    for verdict in (WORSE, INCONCLUSIVE, BETTER):
        if verdict in judged:
            return verdict
    return SAME if judged else NO_DATA


__all__ = [
    "BETTER",
    "INCONCLUSIVE",
    "NO_DATA",
    "SAME",
    "VERDICTS",
    "WORSE",
    "Tolerance",
    "ToleranceError",
    "judge_delta",
    "overall_verdict",
]
