"""Target expressions such as ``< 50``, ``> 99.9``, ``<= 2GB`` or ``800..1200`` and judging them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_SIZE_SUFFIXES = {
    "": 1.0,
    "k": 1e3,
    "kb": 1e3,
    "m": 1e6,
    "mb": 1e6,
    "g": 1e9,
    "gb": 1e9,
    "kib": 2.0**10,
    "mib": 2.0**20,
    "gib": 2.0**30,
}
_NUMBER = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([a-zA-Z]*)"
_COMPARE_RE = re.compile(rf"^\s*(<=|>=|<|>)\s*{_NUMBER}\s*$")
_RANGE_RE = re.compile(rf"^\s*{_NUMBER}\s*\.\.\s*{_NUMBER}\s*$")


class TargetSyntaxError(ValueError):
    """A target expression that cannot be read; the message says what form is expected."""


def _number(text: str, suffix: str) -> float:
    key = suffix.lower()
    if key not in _SIZE_SUFFIXES:
        raise TargetSyntaxError(
            f"unknown unit suffix {suffix!r}; "
            "use a plain number or one of KB, MB, GB, KiB, MiB, GiB"
        )
    return float(text) * _SIZE_SUFFIXES[key]


@dataclass(frozen=True)
class Target:
    """A bound on one metric: ``op`` is one of <, <=, >, >=, range; ``low``..``high`` for range."""

    op: str
    value: float
    high: float = math.nan
    text: str = ""

    @classmethod
    def parse(cls, text: str | int | float) -> Target:
        """Read ``< 50``, ``>= 800``, ``<= 2GB`` or ``800..1200``; raise TargetSyntaxError."""
        if isinstance(text, bool):
            raise TargetSyntaxError("expected a target such as '< 50' or '800..1200', got a bool")
        if isinstance(text, int | float):
            raise TargetSyntaxError(
                f"a bare number ({text}) is ambiguous; write '< {text}' or '> {text}'"
            )
        match = _COMPARE_RE.match(text)
        if match:
            op, number, suffix = match.groups()
            return cls(op=op, value=_number(number, suffix), text=" ".join(text.split()))
        match = _RANGE_RE.match(text)
        if match:
            low = _number(match.group(1), match.group(2))
            high = _number(match.group(3), match.group(4))
            if low > high:
                raise TargetSyntaxError(f"range {text!r} has its low end above its high end")
            return cls(op="range", value=low, high=high, text=" ".join(text.split()))
        raise TargetSyntaxError(
            f"cannot read target {text!r}; expected '< N', '<= N', '> N', '>= N' or 'LOW..HIGH'"
        )

    def met_by(self, measured: float) -> bool:
        """Whether ``measured`` satisfies the target; NaN never does."""
        if math.isnan(measured):
            return False
        if self.op == "<":
            return measured < self.value
        if self.op == "<=":
            return measured <= self.value
        if self.op == ">":
            return measured > self.value
        if self.op == ">=":
            return measured >= self.value
        return self.value <= measured <= self.high

    def margin(self, measured: float) -> float:
        """Signed distance to the nearest bound, positive when met (in the metric's unit)."""
        if math.isnan(measured):
            return math.nan
        if self.op in ("<", "<="):
            return self.value - measured
        if self.op in (">", ">="):
            return measured - self.value
        return min(measured - self.value, self.high - measured)


__all__ = ["Target", "TargetSyntaxError"]
