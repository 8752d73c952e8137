"""Telemetry overhead: paired treatment − baseline deltas with 95 % intervals, judged on budgets.

The repetition is the unit. Requests inside one run are autocorrelated (a slow second slows many
requests), so each run is reduced to one figure per metric first; pairs of runs (A and B run
back to back, in random order) give one delta each. The interval is a bootstrap over pairs, with
the percentile level expanded as Hesterberg (2015) proposes, joined with Student's t interval on
the same deltas: resampling five values covers only ~83 % plain and ~91 % expanded, and the union
keeps the promised 95 % at the default five pairs. An exact Wilcoxon signed-rank test on the same
deltas cross-checks the direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.contract.statuses import FAIL, INCOMPLETE, PASS

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 20_000

WITHIN, EXCEEDS, INCONCLUSIVE, NO_DATA = "WITHIN", "EXCEEDS", "INCONCLUSIVE", "NO DATA"


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


@dataclass(frozen=True)
class BudgetVerdict:
    metric: str
    budget: float
    delta: Delta | None
    status: str
    reason: str
    more_pairs: int | None  # about how many more pairs would settle an INCONCLUSIVE row


def _expanded_alpha(n: int, confidence: float) -> float:
    """Tail level for the percentile bootstrap that matches a t interval with n − 1 df."""
    alpha = 1 - confidence
    t = stats.t.ppf(1 - alpha / 2, df=n - 1)
    return float(2 * stats.norm.sf(math.sqrt(n / (n - 1)) * t))


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
    alpha = _expanded_alpha(n, confidence)
    boot_low, boot_high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    t_half = stats.t.ppf((1 + confidence) / 2, df=n - 1) * deltas.std(ddof=1) / math.sqrt(n)
    low = min(float(boot_low), deltas.mean() - t_half)
    high = max(float(boot_high), deltas.mean() + t_half)
    if np.all(deltas == deltas[0]):
        p_value = 1.0 if deltas[0] == 0 else 2 * 0.5**n
    else:
        p_value = float(stats.wilcoxon(deltas, method="exact").pvalue)
    return Delta(metric, n, float(deltas.mean()), float(low), float(high), p_value, tuple(deltas))


def judge_budget(metric: str, budget: float, delta: Delta | None) -> BudgetVerdict:
    """WITHIN when the whole interval is at or under the budget, EXCEEDS when it is all above."""
    if delta is None:
        return BudgetVerdict(metric, budget, None, NO_DATA, "no complete pairs measured", None)
    if delta.high <= budget:
        reason = f"the 95 % interval's upper end {delta.high:.4g} is within {budget:g}"
        return BudgetVerdict(metric, budget, delta, WITHIN, reason, None)
    if delta.low > budget:
        reason = f"the 95 % interval's lower end {delta.low:.4g} is above {budget:g}"
        return BudgetVerdict(metric, budget, delta, EXCEEDS, reason, None)
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
        f"{budget:g}; {hint}"
    )
    return BudgetVerdict(metric, budget, delta, INCONCLUSIVE, reason, more)


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


__all__ = [
    "EXCEEDS",
    "INCONCLUSIVE",
    "NO_DATA",
    "WITHIN",
    "BudgetVerdict",
    "Delta",
    "deltas_from_runs",
    "judge_budget",
    "overall_status",
    "paired_delta",
]
