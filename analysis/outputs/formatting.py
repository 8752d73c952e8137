"""Human-readable numbers with units, shared by the HTML report and the terminal table."""

from __future__ import annotations

import math

_BYTE_UNITS = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"))


def format_bytes(value: float, signed: bool = False) -> str:
    """Decimal units, as targets such as '< 2GB' are read: 1 GB = 1e9 bytes."""
    sign = "+" if signed and value > 0 else ("-" if value < 0 else "")
    size = abs(value)
    for factor, unit in _BYTE_UNITS:
        if size >= factor:
            return f"{sign}{size / factor:.2f} {unit}"
    return f"{sign}{size:.0f} B"


def format_value(value: float | None, unit: str, signed: bool = False) -> str:
    """``value`` with its unit: '3.400 ms', '998.7 req/s', '0.12 %', '1.23 GB'; '—' when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    plus = "+" if signed else ""
    if unit == "bytes":
        return format_bytes(value, signed)
    if unit == "ms":
        return f"{value:{plus}.3f} ms"
    if unit == "req/s":
        return f"{value:{plus}.1f} req/s"
    if unit == "tokens/s":
        return f"{value:{plus}.1f} tokens/s"
    if unit == "%":
        digits = 3 if abs(value) < 1 else 2
        return f"{value:{plus}.{digits}f} %"
    return f"{value:{plus}g} {unit}".rstrip()


def format_count(value: int | float | None) -> str:
    """An integer count with thousands separators; '—' when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{int(value):,}"


__all__ = ["format_bytes", "format_count", "format_value"]
