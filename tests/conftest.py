"""Suite-wide rule: tests that put real load on the machine never run beside each other.

Every end-to-end run (marked ``slow``) sends real load on loopback and judges what it measured;
two of them at once on a 2-core machine would measure each other. ``make test`` therefore runs
the light live tests (``live``: real servers, no load) on two xdist workers, then the slow tests
one at a time in a single process (``-m slow``), with the pure unit tests (neither ``live`` nor
``slow``) beside them in one process at nice 10. A slow test started on a parallel worker fails
at once with that explanation instead of measuring the wrong thing. A test that starts a server
or has a timing bound is marked ``live``, so it never runs beside a load.
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
