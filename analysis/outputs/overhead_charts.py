"""The overhead experiment's chart: each budget's paired deltas, interval and limit.

A spec for the one composer (``analysis.outputs.charts.render_figures``): one panel per budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes

from analysis.outputs.charts import file_store, render_figures
from analysis.outputs.chartspec import ChartSpec
from analysis.overhead.stats import BudgetVerdict

CHART_NAME = "overhead-deltas"
CHART_FILE = f"{CHART_NAME}.png"
_SCALE = {"memory_bytes": (1e6, "MB")}


def plot_budget(ax: Axes, verdict: BudgetVerdict) -> None:
    """Per-pair deltas (dots), the mean with its 95 % interval (bar), the budget (red line); the
    title gives the status and the minimum detectable effect."""
    scale, unit = _SCALE.get(verdict.metric, (1.0, ""))
    delta = verdict.delta
    ax.axvline(0, color="#888888", linewidth=0.8)
    if math.isfinite(verdict.budget):  # a metric reported without a budget has none to draw
        ax.axvline(verdict.budget / scale, color="#cf222e", linestyle="--", label="budget")
    if delta is not None:
        ax.scatter([d / scale for d in delta.deltas], [0.25] * len(delta.deltas), s=14,
                   color="#57606a", label="pair deltas")  # fmt: skip
        ax.errorbar([delta.mean / scale], [0], xerr=[[(delta.mean - delta.low) / scale],
                    [(delta.high - delta.mean) / scale]], fmt="o", color="#0969da", capsize=4,
                    label="mean, 95 % interval")  # fmt: skip
    ax.set_yticks([])
    ax.set_ylim(-0.6, 0.6)
    label = f"{verdict.metric} ({unit})" if unit else verdict.metric
    mde = f", MDE {verdict.mde / scale:.3g}" if math.isfinite(verdict.mde) else ""
    ax.set_title(f"{label}: {verdict.status}{mde}", loc="left", fontsize=9)


def overhead_spec(verdicts: list[BudgetVerdict], xlabel: str = "treatment − baseline") -> ChartSpec:
    """One panel per budget, the legend on the first, the axis label on the last."""

    def draw(axes: Sequence[Axes]) -> None:
        for ax, verdict in zip(axes, verdicts, strict=True):
            plot_budget(ax, verdict)
        axes[0].legend(loc="upper right", fontsize=7, frameon=False, ncols=3)
        axes[-1].set_xlabel(xlabel)

    return ChartSpec(
        CHART_NAME,
        "Overhead per budget",
        "Paired deltas, their mean with its 95 % interval, and the budget.",
        size_in=(7.5, 1.3 * len(verdicts) + 0.4),
        draw_panels=draw,
        panels=len(verdicts),
    )


def render_overhead_chart(
    verdicts: list[BudgetVerdict], folder: Path, xlabel: str = "treatment − baseline"
) -> Path | None:
    """Compose one row per budget into overhead-deltas.png; None when there are no budgets."""
    if not verdicts:
        return None
    (chart,) = render_figures([overhead_spec(verdicts, xlabel)], file_store(folder, "."))
    return chart.path


__all__ = ["CHART_FILE", "overhead_spec", "plot_budget", "render_overhead_chart"]
