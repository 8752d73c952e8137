"""Small validation pieces shared by the scenario models."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

M = TypeVar("M", bound=Mapping)


def only_known(value: M, known: Iterable[str], what: str = "metric(s)") -> M:
    """``value`` unchanged when all its keys are ``known``; else a ValueError naming the others."""
    names = list(known)
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; known: {names}")
    return value


__all__ = ["only_known"]
