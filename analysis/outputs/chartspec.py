"""What a chart is before it is drawn (spec) and after (file), and the numbers table under it.

Kept apart from ``analysis.outputs.charts`` so that modules contributing charts (streaming, ...) can
build specs without importing the composer that lists them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

MAX_TABLE_ROWS = 300  # longer per-second tables show every n-th second
Draw = Callable[[Axes], None]
DrawPanels = Callable[[Sequence[Axes]], None]  # a figure of stacked panels, one Axes each


@dataclass(frozen=True)
class ChartTable:
    """The numbers behind a chart, as display strings."""

    head: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass(frozen=True)
class ChartSpec:
    """One chart to draw (``draw`` set) or to mention as skipped (``skipped`` says why)."""

    name: str
    title: str
    caption: str
    draw: Draw | None = None
    table: ChartTable | None = None
    skipped: str = ""
    size_in: tuple[float, float] | None = None  # width, height; None: the style's size
    # Instead of ``draw``: ``panels`` Axes stacked in one column, drawn together (each panel
    # titles itself; the chart's title is not drawn on the figure).
    draw_panels: DrawPanels | None = None
    panels: int = 1


@dataclass(frozen=True)
class ChartFile:
    """A chart for the page: ``href`` (relative, or a data: URI) is empty when skipped;
    ``path`` is the PNG file, None when skipped or kept inline."""

    name: str
    href: str
    path: Path | None
    title: str
    caption: str
    table: ChartTable | None = None
    skipped: str = ""


def num_text(value: Any, digits: int = 3) -> str:
    """``value`` with thousands separators and ``digits`` decimals; '—' when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{float(value):,.{digits}f}"


def frame_table(frame: pd.DataFrame, columns: Sequence[tuple[str, str, int]]) -> ChartTable:
    """(column, heading, digits) of ``frame``; long tables keep every n-th row and say so."""
    step = max(1, math.ceil(len(frame) / MAX_TABLE_ROWS))
    shown = frame.iloc[::step]
    rows = [[num_text(row[c], d) for c, _, d in columns] for _, row in shown.iterrows()]
    note = f"every {step}th row of {len(frame):,}" if step > 1 else ""
    return ChartTable([h for _, h, _ in columns], rows, note)


__all__ = [
    "MAX_TABLE_ROWS",
    "ChartFile",
    "ChartSpec",
    "ChartTable",
    "Draw",
    "DrawPanels",
    "frame_table",
    "num_text",
]
