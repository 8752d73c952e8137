"""Everything after the load: read a run directory, measure, judge, chart and report.

The public names are re-exported lazily so that ``loadtests`` can import the light contract
modules (``analysis.contract``: schema, targets, statuses, atomic writes) without pulling in
pandas and matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analysis.api import (
        RunAnalysis,
        RunData,
        RunDirError,
        RunResult,
        analyze,
        analyze_run,
        exit_code,
        format_verdict_table,
        load_run,
        update_index,
        write_outputs,
    )

__all__ = [
    "RunAnalysis",
    "RunData",
    "RunDirError",
    "RunResult",
    "analyze",
    "analyze_run",
    "exit_code",
    "format_verdict_table",
    "load_run",
    "update_index",
    "write_outputs",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("analysis.api"), name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
