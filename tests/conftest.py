"""Suite-wide rule: tests that put real load on the machine never run beside each other.

Every end-to-end run (marked ``slow``) sends real load on loopback and judges what it measured;
two of them at once on a 2-core machine would measure each other. ``make test`` therefore runs
the suite in two phases: everything else on two xdist workers (``-m "not slow"``), then the
slow tests one at a time in a single process (``-m slow``). A slow test started on a parallel
worker fails at once with that explanation instead of measuring the wrong thing.
"""

from __future__ import annotations

import os

import pytest


def pytest_runtest_setup(item: pytest.Item) -> None:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and item.get_closest_marker("slow"):
        pytest.fail(
            f"{item.nodeid} puts load on the machine and must not run beside other tests "
            f"({workers} xdist workers): run `pytest -m slow` in one process (make test does)",
            pytrace=False,
        )
