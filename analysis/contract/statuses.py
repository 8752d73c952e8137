"""Statuses of a verdict and of a run, and the exit code of each: the one home of both.

A verdict is PASS, FAIL or NO DATA; a run (or an experiment) is PASS, FAIL, INCOMPLETE (it could
not be judged: NO DATA somewhere, bad input, a fault of the harness) or INTERRUPTED. The process
exits 0, 1, 2 or 130 respectively, whoever ends it: the CLI's own errors use the same codes.
"""

from __future__ import annotations

PASS, FAIL, NO_DATA = "PASS", "FAIL", "NO DATA"
INCOMPLETE, INTERRUPTED = "INCOMPLETE", "INTERRUPTED"

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_CANNOT_JUDGE = 2
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    PASS: EXIT_PASS,
    FAIL: EXIT_FAIL,
    INCOMPLETE: EXIT_CANNOT_JUDGE,
    INTERRUPTED: EXIT_INTERRUPTED,
}


def exit_code(status: str) -> int:
    """The process exit code of an overall status: PASS 0, FAIL 1, INCOMPLETE 2, INTERRUPTED 130."""
    try:
        return EXIT_CODES[status]
    except KeyError:
        raise ValueError(f"unknown status {status!r}; expected one of {list(EXIT_CODES)}") from None


__all__ = [
    "EXIT_CANNOT_JUDGE",
    "EXIT_CODES",
    "EXIT_FAIL",
    "EXIT_INTERRUPTED",
    "EXIT_PASS",
    "FAIL",
    "INCOMPLETE",
    "INTERRUPTED",
    "NO_DATA",
    "PASS",
    "exit_code",
]
