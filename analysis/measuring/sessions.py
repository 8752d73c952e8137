"""Multi-turn sessions: TTFT, latency, request size and cache hits by turn; sessions' outcomes.

Rows with ``turn >= 1`` are turns of a session. Figures by turn cover the turns intended in the
judged window, as every latency figure does, each measured from its own intended time: for a
later turn the previous answer's end plus its think time, so a turn that left late is charged
for it. Turns from ``MAX_TURN_ROWS`` on are pooled in one row ("12+"); "first" is turn 1 and
"later" every turn after it. Latency covers every turn (failed ones too, as the run's latency
does), TTFT the streamed turns that got a token, the request size the body bytes sent (where
the prompt's growth shows), the hit ratio HIT / (HIT + MISS) of X-Cache-Status.

Sessions' outcomes cover the whole run and need no per-session state: a failed turn ends its
session, so started = first turns sent, completed = last turns (``turn == session_turns``) that
succeeded, failed = turns that failed (but for those cancelled at the end), and cut = the rest:
sessions the end of the run stopped between turns, or whose next turn never left (the cap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.measuring.cacheeffect import cache_classes
from analysis.measuring.client import Window, failed_mask
from analysis.measuring.tally import Percentiles, Tally

MAX_TURN_ROWS = 12
QUANTILES = ("p50", "p95", "p99")
GROUPS = ("first", "later")
NO_SESSIONS = "no request of the run belonged to a multi-turn session"


@dataclass(frozen=True)
class TurnFigures:
    """One turn index (or group of turns) in the judged window."""

    turn: str  # "1", "2", ..., f"{MAX_TURN_ROWS}+", or "first" / "later"
    requests: int = 0
    errors: int = 0
    latency: Percentiles = field(default_factory=Percentiles)  # ms, from the intended send
    ttft: Percentiles = field(default_factory=Percentiles)  # ms, streamed turns with a token
    request_bytes_p50: float = math.nan
    request_bytes_max: float = math.nan
    hits: int = 0
    misses: int = 0

    @property
    def hit_percent(self) -> float:
        return (
            100.0 * self.hits / (self.hits + self.misses) if self.hits + self.misses else math.nan
        )


@dataclass(frozen=True)
class SessionMeasurements:
    """Sessions' outcomes over the run and their turns' figures in the judged window."""

    started: int = 0
    completed: int = 0
    failed: int = 0
    cut: int = 0
    by_turn: tuple[TurnFigures, ...] = ()
    groups: dict[str, TurnFigures] = field(default_factory=dict)  # "first", "later"
    reason: str = NO_SESSIONS

    @property
    def any(self) -> bool:
        return self.started > 0 or bool(self.by_turn)


def _turn_keys(turn: np.ndarray) -> np.ndarray:
    """The row each turn is counted in: its index, or the pooled last row."""
    return np.where(turn >= MAX_TURN_ROWS, MAX_TURN_ROWS, turn)


def _key_name(key: int) -> str:
    return f"{key}+" if key >= MAX_TURN_ROWS else str(key)


def tally_sessions(
    samples: pd.DataFrame, window: Window | None, ttft_us: np.ndarray | None, t: Tally
) -> None:
    """Add one block (``ttft_us`` NaN where no token) to what ``sessions_from`` reads."""
    turn = samples["turn"].to_numpy()
    in_session = turn >= 1
    if not in_session.any():
        return
    failed = failed_mask(samples)
    cancelled = (samples["error"] == "cancelled").to_numpy()
    last = turn == samples["session_turns"].to_numpy()
    t.add("sessions:started", int((turn == 1).sum()))
    t.add("sessions:completed", int((in_session & last & ~failed).sum()))
    t.add("sessions:failed", int((in_session & failed & ~cancelled).sum()))
    if window is None:
        return
    intended = samples["intended_us"].to_numpy()
    chosen = in_session & window.holds(intended)
    hit, miss = cache_classes(samples["cache"])
    columns = {
        "latency": samples["response_us"].to_numpy(),
        "bytes": samples["request_bytes"].to_numpy(),
        "ttft": ttft_us if ttft_us is not None else np.full(len(samples), math.nan),
    }
    keys = _turn_keys(turn)
    groups = {"first": chosen & (turn == 1), "later": chosen & (turn >= 2)}
    for key in np.unique(keys[chosen]):
        groups[str(int(key))] = chosen & (keys == key)
        t.category("session_turn", {str(int(key)): 1})
    for name, mask in groups.items():
        t.add(f"session_requests:{name}", int(mask.sum()))
        t.add(f"session_errors:{name}", int((mask & failed).sum()))
        t.add(f"session_hits:{name}", int((mask & hit).sum()))
        t.add(f"session_misses:{name}", int((mask & miss).sum()))
        t.values(f"session_latency:{name}", columns["latency"][mask])
        sizes = columns["bytes"][mask]
        t.values(f"session_bytes:{name}", sizes[sizes >= 0])
        ttft = columns["ttft"][mask]
        t.values(f"session_ttft:{name}", ttft[~np.isnan(ttft)].astype(np.int64))


def _figures(t: Tally, name: str, label: str) -> TurnFigures:
    sizes = t.histogram(f"session_bytes:{name}").quantiles(("p50", "max"))
    return TurnFigures(
        turn=label,
        requests=t.counts[f"session_requests:{name}"],
        errors=t.counts[f"session_errors:{name}"],
        latency=t.percentiles_ms(f"session_latency:{name}", QUANTILES),
        ttft=t.percentiles_ms(f"session_ttft:{name}", QUANTILES),
        request_bytes_p50=sizes["p50"],
        request_bytes_max=sizes["max"],
        hits=t.counts[f"session_hits:{name}"],
        misses=t.counts[f"session_misses:{name}"],
    )


def sessions_from(t: Tally) -> SessionMeasurements:
    """The session figures of the blocks added to ``t`` by ``tally_sessions``."""
    started = t.counts["sessions:started"]
    turns = sorted(int(k) for k in t.categories.get("session_turn", {}))
    if not started and not turns:
        return SessionMeasurements()
    completed, failed = t.counts["sessions:completed"], t.counts["sessions:failed"]
    return SessionMeasurements(
        started=started,
        completed=completed,
        failed=failed,
        cut=max(0, started - completed - failed),
        by_turn=tuple(_figures(t, str(k), _key_name(k)) for k in turns),
        groups={name: _figures(t, name, name) for name in GROUPS},
        reason="" if turns else "no session turn was intended in the judged window",
    )


def measure_sessions(
    samples: pd.DataFrame, window: Window | None, ttft_us: np.ndarray | None = None
) -> SessionMeasurements:
    """Session figures of ``samples`` in memory (``ttft_us`` NaN where no token)."""
    t = Tally()
    tally_sessions(samples, window, ttft_us, t)
    return sessions_from(t)


def _turn_summary(figures: TurnFigures) -> dict[str, Any]:
    return {
        "turn": figures.turn,
        "requests": figures.requests,
        "errors": figures.errors,
        "latency_ms": {q: figures.latency.get(q) for q in QUANTILES},
        "ttft_ms": {q: figures.ttft.get(q) for q in QUANTILES},
        "request_bytes_p50": figures.request_bytes_p50,
        "request_bytes_max": figures.request_bytes_max,
        "hits": figures.hits,
        "misses": figures.misses,
        "hit_percent": figures.hit_percent,
    }


def sessions_summary(sessions: SessionMeasurements) -> dict[str, Any]:
    """``measurements.sessions`` of summary.json, or nothing for a run without sessions."""
    if not sessions.any:
        return {}
    started = sessions.started
    return {
        "sessions": {
            "started": started,
            "completed": sessions.completed,
            "failed": sessions.failed,
            "cut": sessions.cut,
            "completed_percent": 100.0 * sessions.completed / started if started else None,
            "first_turn": _turn_summary(sessions.groups.get("first", TurnFigures("first"))),
            "later_turns": _turn_summary(sessions.groups.get("later", TurnFigures("later"))),
            "by_turn": [_turn_summary(f) for f in sessions.by_turn],
            "missing": sessions.reason,
        }
    }


__all__ = [
    "MAX_TURN_ROWS",
    "NO_SESSIONS",
    "SessionMeasurements",
    "TurnFigures",
    "measure_sessions",
    "sessions_from",
    "sessions_summary",
    "tally_sessions",
]
