"""The capacity search: bracket the highest passing request rate, then bisect, within a budget.

The search knows nothing of load or runs: it asks ``probe(rate_rps)`` for one trial's verdict
(PASS, FAIL or UNJUDGED with a signed relative margin, positive when met) and reads ``clock_s``.

1. Bracket. The first rate is ``start_rps``; after a pass the next is twice the highest passing
   rate (at most ``max_rps``), after a fail half the lowest failing rate (at least ``min_rps``),
   until one passing and one failing rate are known.
2. Bisect. The next rate is the middle of the interval [highest pass, lowest fail).
3. Stop when (lowest fail − highest pass) ≤ ``precision`` × highest pass, when the next probe
   would not end inside ``time_budget_s`` (its length is guessed from the probes so far), when
   ``max_rps`` passes (the capacity is at least that: a bound) or ``min_rps`` fails (below it).

A trial whose verdict is close (|margin| < ``close_margin``) or that could not be judged is run
again, up to ``max_trials`` at one rate; the rate passes when more of its trials passed than
failed, fails when at least as many failed (a tie is a fail: the conservative side), and stays
UNJUDGED when none was judged. An UNJUDGED rate caps the search like a fail, but a capacity whose
upper end is only UNJUDGED is reported as such (the harness, not the target, set that limit).
A probe that raises ``StopSearch`` ends the search at once; the result keeps the trials that ran
and its ``stopped`` is the exception's text ("interrupted" when it has none).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

PASS, FAIL, UNJUDGED = "PASS", "FAIL", "UNJUDGED"
# What the search concluded (``SearchResult.status``).
FOUND = "FOUND"  # a passing and a failing rate bracket the capacity
AT_LEAST = "AT_LEAST"  # no rate failed: the capacity is at least the highest passing rate
BELOW = "BELOW"  # no rate passed: the capacity is below the lowest failing rate
CANNOT_JUDGE = "CANNOT_JUDGE"  # the upper end is a rate the harness could not judge, or none ran


class StopSearch(Exception):
    """Raised by a probe to end the search at once; its text says why (none: interrupted)."""


@dataclass(frozen=True)
class Trial:
    """One probe's verdict: ``margin`` is relative to the target's bound (−0.2: 20 % over it)."""

    status: str
    margin: float = math.nan
    reasons: tuple[str, ...] = ()
    run_dir: str = ""
    figures: dict[str, float] = field(default_factory=dict, compare=False)  # for the report


@dataclass(frozen=True)
class Probe:
    """A rate with its trials and their combined verdict; times in s since the search began."""

    rate_rps: float
    status: str
    trials: tuple[Trial, ...]
    start_s: float
    end_s: float

    @property
    def margin(self) -> float:
        """The median margin of the judged trials (NaN when none was judged)."""
        judged = sorted(t.margin for t in self.trials if not math.isnan(t.margin))
        if not judged:
            return math.nan
        mid = len(judged) // 2
        return judged[mid] if len(judged) % 2 else (judged[mid - 1] + judged[mid]) / 2


@dataclass(frozen=True)
class SearchSettings:
    """How the search runs; rates in req/s, ``precision`` and ``close_margin`` relative."""

    start_rps: float
    min_rps: float
    max_rps: float
    precision: float = 0.05
    time_budget_s: float = 600.0
    probe_estimate_s: float = 20.0  # the length of a probe until one has run
    close_margin: float = 0.1
    max_trials: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.min_rps <= self.start_rps <= self.max_rps:
            raise ValueError(
                f"the rates must satisfy 0 < min ({self.min_rps:g}) <= start "
                f"({self.start_rps:g}) <= max ({self.max_rps:g}) req/s"
            )
        if not 0 < self.precision < 1:
            raise ValueError(f"precision must be between 0 and 1, got {self.precision:g}")
        if self.time_budget_s <= 0:
            raise ValueError(f"the time budget must be above 0 s, got {self.time_budget_s:g}")
        if self.max_trials < 1:
            raise ValueError(f"max_trials must be 1 or more, got {self.max_trials}")


@dataclass(frozen=True)
class SearchResult:
    """The capacity (the highest passing rate, 0 when none passed) and the interval around it.

    ``low_rps``..``high_rps``: the true capacity lies at or above the highest passing rate and
    below the lowest failing one (``high_rps`` is inf when none failed).
    """

    status: str
    capacity_rps: float
    low_rps: float
    high_rps: float
    stopped: str
    probes: tuple[Probe, ...] = field(default_factory=tuple)

    @property
    def failing(self) -> Probe | None:
        """The probe at the interval's upper end: why the rate above the capacity failed."""
        above = [p for p in self.probes if p.status != PASS and p.rate_rps == self.high_rps]
        return above[-1] if above else None


def combine(trials: list[Trial]) -> str:
    """The verdict of a rate from its trials: more passes than fails pass, a tie fails."""
    passes = sum(t.status == PASS for t in trials)
    fails = sum(t.status == FAIL for t in trials)
    if passes > fails:
        return PASS
    return FAIL if fails else UNJUDGED


def _settled(trials: list[Trial], close_margin: float) -> bool:
    """Whether the trials so far decide the rate: a clear verdict, and no disagreement."""
    last = trials[-1]
    if last.status == UNJUDGED or abs(last.margin) < close_margin:
        return False
    judged = {t.status for t in trials if t.status != UNJUDGED}
    return len(judged) == 1 and combine(trials) == last.status


class _Search:
    def __init__(
        self,
        settings: SearchSettings,
        probe: Callable[[float], Trial],
        clock_s: Callable[[], float],
    ) -> None:
        self.s = settings
        self.probe = probe
        self.clock_s = clock_s
        self.began_s = clock_s()
        self.probes: list[Probe] = []
        self.trial_s: list[float] = []

    def elapsed_s(self) -> float:
        return self.clock_s() - self.began_s

    def fits(self) -> bool:
        """Whether one more trial, as long as the mean so far, ends inside the budget."""
        guess = sum(self.trial_s) / len(self.trial_s) if self.trial_s else self.s.probe_estimate_s
        return self.elapsed_s() + guess <= self.s.time_budget_s

    def run_rate(self, rate: float) -> Probe | None:
        """Trials at ``rate`` until settled; None when not even one fits in the budget."""
        start_s = self.elapsed_s()
        trials: list[Trial] = []
        try:
            while len(trials) < self.s.max_trials and self.fits():
                began = self.elapsed_s()
                trials.append(self.probe(rate))
                self.trial_s.append(self.elapsed_s() - began)
                if _settled(trials, self.s.close_margin):
                    break
        finally:  # a StopSearch keeps the trials this rate had
            if trials:
                probe = Probe(rate, combine(trials), tuple(trials), start_s, self.elapsed_s())
                self.probes.append(probe)
        return self.probes[-1] if trials else None

    def bounds(self) -> tuple[float, float]:
        """The highest passing rate (0: none) and the lowest rate above it that did not pass."""
        low = max((p.rate_rps for p in self.probes if p.status == PASS), default=0.0)
        high = min(
            (p.rate_rps for p in self.probes if p.status != PASS and p.rate_rps > low),
            default=math.inf,
        )
        return low, high

    def next_rate(self) -> tuple[float | None, str]:
        """The next rate to try, or None and why the search is over."""
        low, high = self.bounds()
        if not self.probes:
            return self.s.start_rps, ""
        if math.isinf(high):
            if low >= self.s.max_rps:
                return None, f"the highest rate allowed, {self.s.max_rps:g} req/s, passed"
            return min(2 * low, self.s.max_rps), ""
        if low == 0:
            if high <= self.s.min_rps:
                return None, f"the lowest rate allowed, {self.s.min_rps:g} req/s, did not pass"
            return max(high / 2, self.s.min_rps), ""
        if high - low <= self.s.precision * low:
            return None, (
                f"precision reached: {low:g} and {high:g} req/s are within "
                f"{self.s.precision:.0%} of each other"
            )
        return (low + high) / 2, ""

    def run(self) -> SearchResult:
        while True:
            rate, stopped = self.next_rate()
            if rate is None:
                break
            try:
                ran = self.run_rate(rate)
            except StopSearch as stop:
                stopped = str(stop) or "interrupted"
                break
            if ran is None:
                stopped = f"time budget: another probe would end after {self.s.time_budget_s:g} s"
                break
        return self.result(stopped)

    def result(self, stopped: str) -> SearchResult:
        low, high = self.bounds()
        upper = [p for p in self.probes if p.rate_rps == high]
        if not self.probes or (upper and all(p.status == UNJUDGED for p in upper)):
            status = CANNOT_JUDGE
        elif math.isinf(high):
            status = AT_LEAST
        elif low == 0:
            status = BELOW
        else:
            status = FOUND
        return SearchResult(status, low, low, high, stopped, tuple(self.probes))


def search(
    settings: SearchSettings,
    probe: Callable[[float], Trial],
    clock_s: Callable[[], float] = time.monotonic,
) -> SearchResult:
    """Search for the highest rate at which ``probe`` passes (see the module's docstring)."""
    return _Search(settings, probe, clock_s).run()


__all__ = [
    "AT_LEAST",
    "BELOW",
    "CANNOT_JUDGE",
    "FAIL",
    "FOUND",
    "PASS",
    "UNJUDGED",
    "Probe",
    "SearchResult",
    "SearchSettings",
    "StopSearch",
    "Trial",
    "combine",
    "search",
]
