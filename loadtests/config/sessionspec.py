"""Multi-turn sessions of a request kind: how many turns, and the think time between them.

Each value accepts the short forms users write and keeps one canonical form (a ``distribution``
and its parameters), so the resolved scenario reads back into the same model:

- ``turns``: ``4``; ``{min: 2, max: 6}`` (uniform whole numbers); ``{distribution: geometric,
  mean: 4, max: 20}`` (1, 2, 3, ... with that mean, never above ``max``, 100 unless set).
- ``think_time``: ``1s``; ``{min: 0.5s, max: 2s}`` (uniform); ``{distribution: exponential,
  mean: 1s}``; ``{distribution: lognormal, median: 1s, sigma: 0.5}``. Draws stop at an hour.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, model_validator

from loadtests.config.validation import Seconds, SpecModel, parse_duration_s

MAX_TURNS = 1000
MAX_THINK_S = 3600.0
_TURN_FORMS = "4, {min: 2, max: 6} or {distribution: geometric, mean: 4, max: 20}"
_THINK_FORMS = (
    "1s, {min: 0.5s, max: 2s}, {distribution: exponential, mean: 1s} or "
    "{distribution: lognormal, median: 1s, sigma: 0.5}"
)


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    return int(value)


def _canonical(value: Any, scalar: Callable[[Any], dict[str, Any]], what: str, forms: str) -> Any:
    """A short form as the canonical mapping: a scalar by ``scalar``, ``{min, max}`` uniform."""
    if isinstance(value, int | float | str | bool):
        return scalar(value)
    if isinstance(value, dict) and "distribution" not in value and {"min", "max"} <= set(value):
        return {"distribution": "uniform", **value}
    if not isinstance(value, dict) or "distribution" not in value:
        raise ValueError(f"expected {what} as {forms}, got {value!r}")
    return value


def _constant_turns(value: Any) -> dict[str, Any]:
    turns = _whole(value, "turns")
    if not 1 <= turns <= MAX_TURNS:
        raise ValueError(f"turns must be 1 to {MAX_TURNS}, got {turns}")
    return {"distribution": "constant", "min": turns, "max": turns}


def _constant_think(value: Any) -> dict[str, Any]:
    seconds = parse_duration_s(value)
    if seconds > MAX_THINK_S:
        raise ValueError(f"a think time is at most {MAX_THINK_S:g} s, got {value!r}")
    return {"distribution": "constant", "mean": seconds}


class TurnCount(SpecModel):
    """How many turns one session has; ``draw`` picks it for a new session."""

    distribution: Literal["constant", "uniform", "geometric"]
    min: int = Field(default=1, ge=1, le=MAX_TURNS)
    max: int = Field(default=100, ge=1, le=MAX_TURNS)
    mean: float | None = Field(default=None, gt=1, le=MAX_TURNS)

    @model_validator(mode="before")
    @classmethod
    def _forms(cls, value: Any) -> Any:
        return _canonical(value, _constant_turns, "turns", _TURN_FORMS)

    @model_validator(mode="after")
    def _consistent(self) -> TurnCount:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        if self.distribution == "geometric":
            if self.mean is None:
                raise ValueError("a geometric number of turns needs its mean, e.g. mean: 4")
            if self.min != 1:
                raise ValueError("a geometric number of turns starts at 1: leave min out")
            if self.mean > self.max:
                raise ValueError(f"mean ({self.mean:g}) is above max ({self.max})")
        elif self.mean is not None:
            raise ValueError("mean applies to distribution geometric only")
        if self.distribution == "constant" and self.min != self.max:
            raise ValueError("a constant number of turns has min equal to max; use 4")
        return self

    def draw(self, rng: random.Random) -> int:
        """Turns of a new session (``min`` <= n <= ``max``)."""
        if self.distribution == "geometric" and self.mean is not None:
            # Inversion of the geometric distribution on 1, 2, ... with success 1/mean.
            n = 1 + math.floor(math.log(1.0 - rng.random()) / math.log(1.0 - 1.0 / self.mean))
            return min(n, self.max)
        return rng.randint(self.min, self.max)


_THINK_FIELDS = {
    "constant": ("mean",),
    "uniform": ("min", "max"),
    "exponential": ("mean",),
    "lognormal": ("median", "sigma"),
}


class ThinkTime(SpecModel):
    """Seconds between an answer's end and the next turn's intended send; ``draw_s`` picks one."""

    distribution: Literal["constant", "uniform", "exponential", "lognormal"]
    mean: Seconds | None = Field(default=None, le=MAX_THINK_S)  # constant: the value itself
    min: Seconds | None = Field(default=None, le=MAX_THINK_S)
    max: Seconds | None = Field(default=None, le=MAX_THINK_S)
    median: Seconds | None = Field(default=None, le=MAX_THINK_S)
    sigma: float | None = Field(default=None, gt=0, le=5)

    @model_validator(mode="before")
    @classmethod
    def _forms(cls, value: Any) -> Any:
        return _canonical(value, _constant_think, "think_time", _THINK_FORMS)

    @model_validator(mode="after")
    def _consistent(self) -> ThinkTime:
        needed = _THINK_FIELDS[self.distribution]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"distribution {self.distribution} needs {', '.join(missing)}")
        extra = [n for n in ("mean", "min", "max", "median", "sigma") if n not in needed]
        given = [name for name in extra if getattr(self, name) is not None]
        if given:
            raise ValueError(f"distribution {self.distribution} takes no {', '.join(given)}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g} s) is above max ({self.max:g} s)")
        if self.distribution == "exponential" and not self.mean:
            raise ValueError("an exponential think time needs a mean above 0")
        return self

    def draw_s(self, rng: random.Random) -> float:
        """One think time in seconds (0 <= s <= an hour)."""
        if self.distribution == "uniform" and self.min is not None and self.max is not None:
            return rng.uniform(self.min, self.max)
        if self.distribution == "exponential" and self.mean:
            return min(rng.expovariate(1.0 / self.mean), MAX_THINK_S)
        if self.distribution == "lognormal" and self.median is not None and self.sigma:
            return min(self.median * math.exp(self.sigma * rng.gauss(0.0, 1.0)), MAX_THINK_S)
        return self.mean or 0.0


class SessionSpec(SpecModel):
    """A conversation: ``turns`` requests one after another, each carrying the turns before it.

    A turn leaves ``think_time`` after the previous turn's answer ended; sessions themselves
    start on the scenario's open-model schedule.
    """

    turns: TurnCount
    think_time: ThinkTime = ThinkTime(distribution="constant", mean=1.0)


__all__ = ["MAX_THINK_S", "MAX_TURNS", "SessionSpec", "ThinkTime", "TurnCount"]
