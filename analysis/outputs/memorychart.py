"""The memory chart's fit: the sustained line of ``analysis.shapes.soak`` and where it starts."""

from __future__ import annotations

import math
from dataclasses import dataclass

from matplotlib.axes import Axes

from analysis.shapes.soak import MemoryGrowth

FIT_COLOR = "tab:orange"


@dataclass(frozen=True)
class MemoryFit:
    """The fitted line in chart units: seconds since the load's start and MB."""

    start_s: float
    end_s: float
    start_mb: float
    end_mb: float
    label: str


def memory_fit(growth: MemoryGrowth, mb_per_byte: float = 1e-6) -> MemoryFit | None:
    """The line to draw for ``growth``; None when nothing was fitted."""
    ends = (growth.fit_start_s, growth.fit_end_s, growth.fit_start_bytes, growth.fit_end_bytes)
    if not growth.shape or not all(math.isfinite(v) for v in ends):
        return None
    return MemoryFit(
        start_s=growth.fit_start_s,
        end_s=growth.fit_end_s,
        start_mb=growth.fit_start_bytes * mb_per_byte,
        end_mb=growth.fit_end_bytes * mb_per_byte,
        label=f"fit: {growth.description}",
    )


def plot_memory_fit(ax: Axes, fit: MemoryFit) -> None:
    """Draw the fitted line and a dotted mark where the steady part (the fit) starts."""
    ax.axvline(fit.start_s, color=FIT_COLOR, linestyle=":", linewidth=1.0, label="steady from")
    ax.plot(
        [fit.start_s, fit.end_s],
        [fit.start_mb, fit.end_mb],
        color=FIT_COLOR,
        linewidth=2.0,
        label=fit.label[:80],
    )
    ax.legend(loc="best")


__all__ = ["MemoryFit", "memory_fit", "plot_memory_fit"]
