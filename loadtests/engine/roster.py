"""The master's view of its Locust workers: who joined in time, and who was lost mid-run."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import gevent

from loadtests.engine.address import MasterAddress
from loadtests.errors import StackError

STATE_MISSING = "missing"  # locust.runners.STATE_MISSING: no heartbeat for 3 s


@dataclass
class Roster:
    """Workers that joined (client id -> worker index) and those lost since."""

    runner: Any
    joined: dict[str, int] = field(default_factory=dict)
    lost: dict[int, str] = field(default_factory=dict)

    def wait_for(
        self,
        expected: int,
        max_wait_s: float,
        address: MasterAddress,
        local: list[subprocess.Popen],
    ) -> None:
        """Wait until ``expected`` workers are ready; else say who joined, and raise."""
        deadline = time.monotonic() + max_wait_s
        while len(self.runner.clients.ready) < expected:
            exited = [p for p in local if p.poll() is not None]
            if exited or time.monotonic() > deadline:
                ready = sorted(c.id for c in self.runner.clients.ready)
                why = (
                    f"a local worker process exited with code {exited[0].returncode}"
                    if exited
                    else f"only {len(ready)} of {expected} Locust workers joined within "
                    f"{max_wait_s:g} s"
                )
                raise StackError(
                    f"{why} (joined: {', '.join(ready) or 'none'}); start each missing worker "
                    f"with `edgeperf worker --master {address.connect_host()}:{address.port}`; "
                    "no load was sent"
                )
            gevent.sleep(0.05)
        for client in self.runner.clients.ready:
            self.joined[client.id] = self.runner.get_worker_index(client.id)

    def newly_lost(self, reported: set[int]) -> list[tuple[int, str]]:
        """Workers gone (missed heartbeats, or quit) before reporting their schedule done."""
        found = []
        for client_id, index in self.joined.items():
            if index in reported or index in self.lost:
                continue
            client = self.runner.clients.get(client_id)
            if client is None or client.state == STATE_MISSING:
                self.lost[index] = client_id
                found.append((index, client_id))
        return found


__all__ = ["Roster"]
