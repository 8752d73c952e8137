"""Telemetry overhead: paired treatment − baseline deltas with 95 % intervals, judged on budgets.

The repetition is the unit. Requests inside one run are autocorrelated (a slow second slows many
requests), so each run is reduced to one figure per metric first; pairs of runs (A and B run
back to back, in random order) give one delta each. The interval is a bootstrap over pairs, with
the percentile level expanded as Hesterberg (2015) proposes, joined with Student's t interval on
the same deltas: resampling five values covers only ~83 % plain and ~91 % expanded, and the union
keeps the promised 95 % at the default five pairs. An exact Wilcoxon signed-rank test on the same
deltas cross-checks the direction.

Calibration: every verdict carries the experiment's minimum detectable effect (MDE), the smallest
true mean delta it would tell from zero 80 % of the time at the interval's 95 % level, and an
A/A experiment (the baseline against itself) is judged on it: RESOLVES when the MDE is at most the
budget, TOO NOISY otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special  # scipy.stats costs ~1 s to import: only the exact Wilcoxon test needs it

from analysis.contract.statuses import FAIL, INCOMPLETE, PASS

CONFIDENCE = 0.95
POWER = 0.80
BOOTSTRAP_RESAMPLES = 20_000
# When the MDE is above a budget, the pairs suggested bring it down to this share of the budget:
# then a true cost of half the budget is judged WITHIN, and one of 1.5 × the budget EXCEEDS, 80 %
# of the time each (an MDE equal to the budget only separates a zero cost from the budget).
RESOLVE_TARGET = 0.5
MAX_PAIRS = 100_000  # pairs_for_mde gives up (None) beyond this

WITHIN, EXCEEDS, INCONCLUSIVE, NO_DATA = "WITHIN", "EXCEEDS", "INCONCLUSIVE", "NO DATA"
# A metric reported without a budget (gateway vs direct): its delta and interval, no verdict.
MEASURED = "MEASURED"
# A/A calibration, per budget: can an experiment of this size on this machine resolve it?
RESOLVES, TOO_NOISY = "RESOLVES", "TOO NOISY"


@dataclass(frozen=True)
class Delta:
    """treatment − baseline for one metric, over ``pairs`` complete pairs."""

    metric: str
    pairs: int
    mean: float
    low: float
    high: float
    wilcoxon_p: float
    deltas: tuple[float, ...]

    @property
    def sd(self) -> float:
        """Sample standard deviation of the per-pair deltas (n − 1); NaN under 2 pairs."""
        return float(np.std(self.deltas, ddof=1)) if len(self.deltas) >= 2 else math.nan


@dataclass(frozen=True)
class BudgetVerdict:
    metric: str
    budget: float
    delta: Delta | None
    status: str
    reason: str
    more_pairs: int | None  # about how many more pairs would settle an INCONCLUSIVE row
    mde: float = math.nan  # minimum detectable effect at this size; NaN under 2 pairs
    # When the MDE is above the budget: pairs in all that bring it to RESOLVE_TARGET × budget.
    pairs_to_resolve: int | None = None


def expanded_alpha(n: int, confidence: float) -> float:
    """Tail level for the percentile bootstrap that matches a t interval with n − 1 df."""
    alpha = 1 - confidence
    t = special.stdtrit(n - 1, 1 - alpha / 2)
    return float(2 * special.ndtr(-math.sqrt(n / (n - 1)) * t))


def paired_delta(
    metric: str,
    baseline: np.ndarray,
    treatment: np.ndarray,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> Delta:
    """The mean paired delta with its expanded-bootstrap interval; needs at least 2 pairs."""
    deltas = np.asarray(treatment, dtype=float) - np.asarray(baseline, dtype=float)
    deltas = deltas[~np.isnan(deltas)]
    n = len(deltas)
    if n < 2:
        raise ValueError(f"{metric}: need at least 2 complete pairs, have {n}")
    rng = np.random.default_rng(seed)
    means = deltas[rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))].mean(axis=1)
    alpha = expanded_alpha(n, confidence)
    boot_low, boot_high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    t_half = special.stdtrit(n - 1, (1 + confidence) / 2) * deltas.std(ddof=1) / math.sqrt(n)
    low = min(float(boot_low), deltas.mean() - t_half)
    high = max(float(boot_high), deltas.mean() + t_half)
    if np.all(deltas == deltas[0]):
        p_value = 1.0 if deltas[0] == 0 else 2 * 0.5**n
    else:
        from scipy import stats

        p_value = float(stats.wilcoxon(deltas, method="exact").pvalue)
    return Delta(metric, n, float(deltas.mean()), float(low), float(high), p_value, tuple(deltas))


def _mde_factor(n: int, confidence: float, power: float) -> float:
    """(t_{1-α/2, n-1} + t_{power, n-1}) / sqrt(n): the MDE per unit of standard deviation."""
    df = n - 1
    t_alpha = special.stdtrit(df, 1 - (1 - confidence) / 2)
    t_power = special.stdtrit(df, power)
    return float((t_alpha + t_power) / math.sqrt(n))


def mde_for(sd: float, n: int, confidence: float = CONFIDENCE, power: float = POWER) -> float:
    """The MDE of ``n`` pairs whose deltas have standard deviation ``sd`` (NaN under 2 pairs)."""
    if n < 2 or not math.isfinite(sd):
        return math.nan
    return _mde_factor(n, confidence, power) * sd


def minimum_detectable_effect(
    deltas: np.ndarray | tuple[float, ...] | list[float],
    confidence: float = CONFIDENCE,
    power: float = POWER,
) -> float:
    """The smallest true mean delta a paired experiment like this one detects with ``power``.

    MDE = (t_{1-α/2, n-1} + t_{power, n-1}) · sd / sqrt(n), with α = 1 − confidence (0.05: the
    interval's two-sided 95 % level), power 0.80, n the complete pairs and sd the sample standard
    deviation (n − 1) of their deltas (treatment − baseline). Read it as: a true cost of at least
    the MDE would put the 95 % interval clear of zero in 80 % of such experiments (and a true cost
    of zero would put it under a budget of MDE 80 % of the time). It is the Student t part of the
    interval; the bootstrap union is never narrower, so at very few pairs this is a slight
    underestimate. NaN under 2 pairs (NaN deltas are dropped first).
    """
    values = np.asarray(deltas, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return math.nan
    return mde_for(float(values.std(ddof=1)), len(values), confidence, power)


def pairs_for_mde(
    sd: float, target: float, confidence: float = CONFIDENCE, power: float = POWER
) -> int | None:
    """The fewest pairs (≥ 2) whose MDE at deltas' standard deviation ``sd`` is ≤ ``target``.

    The t quantiles depend on n, so it starts at the normal-approximation size
    ((z_{1-α/2} + z_{power}) · sd / target)², which never overshoots, and counts up. None when the
    target is not positive, sd is not finite, or it would take more than MAX_PAIRS pairs.
    """
    if not (math.isfinite(sd) and math.isfinite(target)) or target <= 0 or sd < 0:
        return None
    z = special.ndtri(1 - (1 - confidence) / 2) + special.ndtri(power)
    n = max(2, math.ceil((z * sd / target) ** 2))
    if n > MAX_PAIRS:
        return None
    while mde_for(sd, n, confidence, power) > target:
        n += 1
        if n > MAX_PAIRS:
            return None
    return n


def _pairs_to_resolve(delta: Delta, budget: float) -> tuple[int | None, str]:
    """Pairs in all that bring the MDE to RESOLVE_TARGET × budget, and a sentence saying so."""
    needed = pairs_for_mde(delta.sd, RESOLVE_TARGET * budget)
    if needed is None:
        return (
            None,
            "no practical number of pairs would; make the runs less noisy (longer, quieter)",
        )
    return needed, (
        f"about {needed} pairs in all would bring the MDE to half the budget, enough to settle a "
        "cost at least half the budget away from it"
    )


def _resolution(delta: Delta, budget: float) -> tuple[float, int | None, str]:
    """The MDE, and when it is above the budget, the pairs that would resolve it and a note."""
    mde = minimum_detectable_effect(delta.deltas)
    if not mde > budget:  # also NaN
        return mde, None, ""
    needed, how = _pairs_to_resolve(delta, budget)
    note = (
        f"the MDE {mde:.4g} is above the budget {budget:g}: {delta.pairs} pairs are too few to "
        f"resolve this budget reliably; {how}"
    )
    return mde, needed, note


def judge_budget(metric: str, budget: float, delta: Delta | None) -> BudgetVerdict:
    """WITHIN when the whole interval is at or under the budget, EXCEEDS when it is all above.

    Every verdict with data carries the MDE; when that is above the budget the reason says the
    experiment is too small to resolve it and how many pairs would (``pairs_to_resolve``).
    """
    if delta is None:
        return BudgetVerdict(metric, budget, None, NO_DATA, "no complete pairs measured", None)
    mde, to_resolve, note = _resolution(delta, budget)
    extra = f"; {note}" if note else ""
    if delta.high <= budget:
        reason = f"the 95 % interval's upper end {delta.high:.4g} is within {budget:g}{extra}"
        return BudgetVerdict(metric, budget, delta, WITHIN, reason, None, mde, to_resolve)
    if delta.low > budget:
        reason = f"the 95 % interval's lower end {delta.low:.4g} is above {budget:g}{extra}"
        return BudgetVerdict(metric, budget, delta, EXCEEDS, reason, None, mde, to_resolve)
    half_width = (delta.high - delta.low) / 2
    distance = abs(budget - delta.mean)
    if distance == 0:
        more, hint = None, "the estimate sits on the budget; no number of pairs settles it"
    else:
        needed = math.ceil(delta.pairs * (half_width / distance) ** 2)
        more = max(1, needed - delta.pairs)
        hint = f"about {more} more pairs would likely settle it"
    reason = (
        f"the 95 % interval [{delta.low:.4g}, {delta.high:.4g}] straddles the budget "
        f"{budget:g}; {hint}{extra}"
    )
    return BudgetVerdict(metric, budget, delta, INCONCLUSIVE, reason, more, mde, to_resolve)


def report_delta(metric: str, delta: Delta | None) -> BudgetVerdict:
    """A metric without a budget: MEASURED, the reason saying whether the interval leaves out 0.

    The budget is NaN. With fewer than two complete pairs it is NO DATA, as a budget would be.
    """
    if delta is None:
        return BudgetVerdict(metric, math.nan, None, NO_DATA, "no complete pairs measured", None)
    mde = minimum_detectable_effect(delta.deltas)
    interval = f"the 95 % interval [{delta.low:.4g}, {delta.high:.4g}]"
    if delta.low > 0 or delta.high < 0:
        reason = f"{interval} is all {'above' if delta.low > 0 else 'below'} zero"
    else:
        reason = (
            f"{interval} contains zero: no difference resolved; the smallest this experiment "
            f"tells from zero 80 % of the time (MDE) is {mde:.4g}"
        )
    return BudgetVerdict(metric, math.nan, delta, MEASURED, reason, None, mde)


def aa_excludes_zero(delta: Delta | None) -> bool:
    """Whether the interval leaves out zero (in an A/A experiment: order or drift)."""
    return delta is not None and (delta.low > 0 or delta.high < 0)


def judge_calibration(metric: str, budget: float, delta: Delta | None) -> BudgetVerdict:
    """An A/A budget row: RESOLVES when the MDE is at most the budget, TOO NOISY otherwise.

    RESOLVES means an experiment of this size on this machine would tell a cost at the budget
    from zero, and call a cost of zero WITHIN, 80 % of the time. An A/A interval that excludes
    zero is flagged in the reason: both sides ran the same variant, so it is a systematic effect
    of order or drift (or a 1-in-20 chance), not telemetry.
    """
    if delta is None:
        return BudgetVerdict(metric, budget, None, NO_DATA, "no complete pairs measured", None)
    mde = minimum_detectable_effect(delta.deltas)
    if mde <= budget:
        status, needed = RESOLVES, None
        reason = (
            f"the MDE {mde:.4g} is within the budget {budget:g}: {delta.pairs} pairs tell a cost "
            "at the budget from zero 80 % of the time"
        )
    else:
        status = TOO_NOISY
        needed, how = _pairs_to_resolve(delta, budget)
        reason = (
            f"the MDE {mde:.4g} is above the budget {budget:g}: {delta.pairs} pairs would miss a "
            f"cost at the budget more than 20 % of the time; {how}"
        )
    if aa_excludes_zero(delta):
        reason += (
            f"; the A/A interval [{delta.low:.4g}, {delta.high:.4g}] excludes 0 although both "
            "sides ran the baseline: a systematic order or drift effect (or a 1-in-20 chance)"
        )
    return BudgetVerdict(metric, budget, delta, status, reason, None, mde, needed)


def deltas_from_runs(figures: pd.DataFrame, seed: int = 0) -> dict[str, Delta | None]:
    """Per metric, the paired delta from rows (pair, variant: baseline|treatment, metric, value)."""
    result: dict[str, Delta | None] = {}
    for metric, rows in figures.groupby("metric", sort=False):
        wide = rows.pivot_table(index="pair", columns="variant", values="value", aggfunc="first")
        if not {"baseline", "treatment"} <= set(wide.columns):
            result[str(metric)] = None
            continue
        wide = wide.dropna(subset=["baseline", "treatment"])
        if len(wide) < 2:
            result[str(metric)] = None
            continue
        base = wide["baseline"].to_numpy()
        treat = wide["treatment"].to_numpy()
        result[str(metric)] = paired_delta(str(metric), base, treat, seed=seed)
    return result


def overall_status(verdicts: list[BudgetVerdict], allow_inconclusive: bool) -> str:
    """PASS unless a budget is exceeded, or inconclusive/missing and that is not allowed."""
    statuses = {v.status for v in verdicts}
    if EXCEEDS in statuses:
        return FAIL
    if NO_DATA in statuses:
        return INCOMPLETE
    if INCONCLUSIVE in statuses and not allow_inconclusive:
        return INCOMPLETE
    return PASS


def calibration_status(verdicts: list[BudgetVerdict]) -> str:
    """PASS when every budget RESOLVES, else INCOMPLETE (cannot judge: exit 2)."""
    if verdicts and all(v.status == RESOLVES for v in verdicts):
        return PASS
    return INCOMPLETE


__all__ = [
    "EXCEEDS",
    "INCONCLUSIVE",
    "MEASURED",
    "NO_DATA",
    "POWER",
    "RESOLVES",
    "RESOLVE_TARGET",
    "TOO_NOISY",
    "WITHIN",
    "BudgetVerdict",
    "Delta",
    "aa_excludes_zero",
    "calibration_status",
    "deltas_from_runs",
    "expanded_alpha",
    "judge_budget",
    "judge_calibration",
    "mde_for",
    "minimum_detectable_effect",
    "overall_status",
    "paired_delta",
    "pairs_for_mde",
    "report_delta",
]
