"""Suite-wide rules: tests that put real load on the machine never run beside each other.

Every test marked ``live`` (real servers on loopback) or ``slow`` (an end-to-end run) joins one
xdist group, so under ``pytest -n 2 --dist loadgroup`` (``make test``) they run one after the
other on a single worker while the other worker takes the unit tests. Two loads therefore never
measure each other; a live test still shares the machine with unit tests and must tolerate that.
"""

from __future__ import annotations

import pytest

LOAD_GROUP = "load"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("live") or item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.xdist_group(LOAD_GROUP))
