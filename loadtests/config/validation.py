"""Small validation pieces shared by the scenario models."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict

M = TypeVar("M", bound=Mapping)


class SpecModel(BaseModel):
    """Base of the scenario's parts: unknown keys refused, frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)")
_DURATION_UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration_s(value: Any) -> float:
    """Read ``90``, ``"90s"``, ``"1m30s"``, ``"500ms"`` or ``"2h"`` as seconds (float, >= 0)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '60s', '1m30s' or '500ms', got a bool")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        parts = _DURATION_RE.findall(text)
        if not text or "".join(n + u for n, u in parts) != text:
            raise ValueError(
                f"cannot read duration {value!r}; use forms like '60s', '1m30s', '500ms'"
            )
        seconds = sum(float(n) * _DURATION_UNITS_S[u] for n, u in parts)
    else:
        raise ValueError(f"expected a duration such as '60s', got {type(value).__name__}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative ({value!r})")
    return seconds


Seconds = Annotated[float, BeforeValidator(parse_duration_s)]


def only_known(value: M, known: Iterable[str], what: str = "metric(s)") -> M:
    """``value`` unchanged when all its keys are ``known``; else a ValueError naming the others."""
    names = list(known)
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; known: {names}")
    return value


__all__ = ["Seconds", "SpecModel", "only_known", "parse_duration_s"]
