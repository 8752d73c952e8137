"""Replay fidelity of a trace run: each row's send lag against the trace, rows skipped and why.

A row's intended time is its trace time after the window and the speed-up (metadata.json
``load.trace``; see loadtests/config/replay.py), so its send lag ``sent_us - intended_us`` is the
lag against the trace. Every sent row counts, ramp or not (a replay has no ramp). Rows of the file
not sent: outside the window, invalid (a zero input or output length), or due but not sent by the
generator (the concurrency cap stayed full past the timeout, or the run ended first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.measuring.tally import Percentiles, Tally

ON_TIME_US = 1000  # the replay goal: each row within 1 ms of its trace time
_LAG = "replay_lag"


def tally_replay(samples: pd.DataFrame, t: Tally) -> None:
    """Add one block of samples: the send lag of every row (against its trace time)."""
    lag = samples["sent_us"].to_numpy() - samples["intended_us"].to_numpy()
    t.values(_LAG, lag)
    t.add("replay_sent", len(lag))
    t.add("replay_on_time", int(np.count_nonzero(lag <= ON_TIME_US)))


@dataclass(frozen=True)
class ReplayFidelity:
    """Send lag against the trace and the fate of every row of the trace file."""

    file: str
    format: str
    speedup: float
    passes: int
    rows_in_file: int
    rows_scheduled: int  # window × passes, valid rows only
    rows_outside_window: int
    rows_invalid: int
    rows_sent: int
    rows_not_sent: int  # due, never sent by the generator
    lag: Percentiles  # ms, over the rows sent
    on_time_percent: float | None  # rows sent within ON_TIME_US of their trace time

    @property
    def rows_unaccounted(self) -> int:
        """Scheduled rows neither sent nor counted as not sent: an interrupted or cut-short run."""
        return max(0, self.rows_scheduled - self.rows_sent - self.rows_not_sent)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "speedup": self.speedup,
            "passes": self.passes,
            "rows_in_file": self.rows_in_file,
            "rows_scheduled": self.rows_scheduled,
            "rows_sent": self.rows_sent,
            "rows_skipped": {
                "outside_window": self.rows_outside_window,
                "invalid": self.rows_invalid,
                "not_sent": self.rows_not_sent,
                "unaccounted": self.rows_unaccounted,
            },
            "send_lag_ms": self.lag.as_dict(),
            "on_time_percent": self.on_time_percent,
            "on_time_ms": ON_TIME_US / 1000,
        }


def replay_from(t: Tally, metadata: dict[str, Any]) -> ReplayFidelity | None:
    """The fidelity of a trace run from what ``tally_replay`` added; None for other runs."""
    trace = (metadata.get("load") or {}).get("trace")
    if not isinstance(trace, dict):
        return None
    sent = t.counts["replay_sent"]
    generator = metadata.get("generator") or {}
    on_time = t.counts["replay_on_time"]
    return ReplayFidelity(
        file=str(trace.get("file", "")),
        format=str(trace.get("format", "")),
        speedup=float(trace.get("speedup") or 1.0),
        passes=int(trace.get("passes") or 1),
        rows_in_file=int(trace.get("rows_in_file") or 0),
        rows_scheduled=int(trace.get("rows_scheduled") or 0),
        rows_outside_window=int(trace.get("rows_outside_window") or 0),
        rows_invalid=int(trace.get("rows_invalid") or 0),
        rows_sent=sent,
        rows_not_sent=int(generator.get("not_sent") or 0),
        lag=t.percentiles_ms(_LAG),
        on_time_percent=100.0 * on_time / sent if sent else None,
    )


__all__ = ["ON_TIME_US", "ReplayFidelity", "replay_from", "tally_replay"]
