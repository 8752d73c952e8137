"""The overhead experiment's chart: each budget's paired deltas, interval and limit."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib import rc_context  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.outputs.plots import STYLE  # noqa: E402
from analysis.overhead.stats import BudgetVerdict  # noqa: E402

CHART_FILE = "overhead-deltas.png"
_SCALE = {"memory_bytes": (1e6, "MB")}


def plot_budget(ax: Axes, verdict: BudgetVerdict) -> None:
    """Per-pair deltas (dots), the mean with its 95 % interval (bar) and the budget (red line)."""
    scale, unit = _SCALE.get(verdict.metric, (1.0, ""))
    delta = verdict.delta
    ax.axvline(0, color="#888888", linewidth=0.8)
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
    ax.set_title(f"{label}: {verdict.status}", loc="left", fontsize=9)


def render_overhead_chart(verdicts: list[BudgetVerdict], folder: Path) -> Path | None:
    """Compose one row per budget into overhead-deltas.png; None when there are no budgets."""
    if not verdicts:
        return None
    with rc_context(STYLE):  # type: ignore[arg-type]
        figure = Figure(figsize=(7.5, 1.3 * len(verdicts) + 0.4))
        FigureCanvasAgg(figure)
        axes = figure.subplots(len(verdicts), 1, squeeze=False)[:, 0]
        for ax, verdict in zip(axes, verdicts, strict=True):
            plot_budget(ax, verdict)
        axes[0].legend(loc="upper right", fontsize=7, frameon=False, ncols=3)
        axes[-1].set_xlabel("treatment − baseline")
        figure.tight_layout()
        path = folder / CHART_FILE
        tmp = path.with_name(path.name + ".tmp")
        figure.savefig(tmp, format="png", dpi=110)
    tmp.replace(path)
    return path


__all__ = ["CHART_FILE", "plot_budget", "render_overhead_chart"]
