"""Runs the plan on Locust: in this process, or as a master with local and remote workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.event
import locust
from locust.argument_parser import get_parser
from locust.env import Environment

from loadtests import locustfile
from loadtests.engine import workerlink
from loadtests.engine.address import MasterAddress
from loadtests.engine.clocksync import wall_ns
from loadtests.engine.plan import Plan
from loadtests.engine.roster import Roster
from loadtests.recording.samples import Columns, LiveStats, PartWriter

ProgressFn = Callable[[LiveStats, float], None]
_START_LEAD_S = 0.5  # the schedule starts this long after the runner is told to start
_WORKER_START_LEAD_S = 1.5
DRAIN_GRACE_S = 1.0  # in-flight requests get the request timeout plus this after the schedule
WATCHDOG_MARGIN_S = 10.0  # past schedule + drain + this, the run is stopped
WATCHDOG_NOTE = "watchdog"


def drain_s(scenario: dict[str, Any]) -> float:
    """How long in-flight requests may run on after the schedule: the request timeout + grace."""
    return float((scenario.get("load") or {}).get("timeout", 10.0)) + DRAIN_GRACE_S


def off_the_loop(work: Callable[[], object]) -> gevent.event.AsyncResult:
    """Run blocking ``work`` (a sample part's write) on a native thread of the hub's pool, so
    the generator's event loop sends on; ``get()`` on the result waits for it."""
    return gevent.get_hub().threadpool.spawn(work)


class RunSink:
    """Where every generator's rows and final statistics arrive, locally or by Locust message."""

    def __init__(self, writer: PartWriter, live: LiveStats, expected_done: int) -> None:
        self.writer = writer
        self.live = live
        self.expected_done = expected_done
        self.generators: list[dict[str, Any]] = []
        self.clocks: dict[int, dict[str, Any]] = {}  # worker index -> its clock offset
        self.lost = 0
        self.finished = gevent.event.Event()

    def add_rows(self, columns: Columns) -> None:
        self.writer.add(columns)
        self.live.add(columns)

    def done(self, stats: dict[str, Any]) -> None:
        self.generators.append(stats)
        self._check()

    def joined(self, info: dict[str, Any]) -> None:
        self.clocks[int(info.get("worker", 0))] = info

    def worker_lost(self) -> None:
        self.lost += 1
        self._check()

    def reported(self) -> set[int]:
        return {int(g.get("worker", 0)) for g in self.generators}

    def _check(self) -> None:
        if len(self.generators) + self.lost >= self.expected_done:
            self.finished.set()


@dataclass
class DriveResult:
    generators: list[dict[str, Any]]
    interrupted: bool
    start_epoch_us: int
    notes: list[str] = field(default_factory=list)
    watchdog: bool = False  # the run outlived schedule + drain + margin and was stopped
    lost_workers: list[int] = field(default_factory=list)  # gone before their schedule ended
    master: str | None = None  # HOST:PORT the master listened on, with workers
    clocks: list[dict[str, Any]] = field(default_factory=list)  # each worker's clock offset


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _options(plan_json: str) -> Any:
    parser = get_parser(default_config_files=[])
    return parser.parse_args(["--headless", "--edgeperf-plan", plan_json])


@dataclass(frozen=True)
class WorkerSetup:
    """Locust workers of a run: ``local`` processes started here, ``remote`` ones expected to
    join from anywhere at ``bind`` within ``max_wait_s``."""

    local: int = 0
    remote: int = 0
    bind: MasterAddress | None = None
    max_wait_s: float = 60.0

    @property
    def distributed(self) -> bool:
        return bool(self.local or self.remote or self.bind)

    def __str__(self) -> str:
        if not self.distributed:
            return "1 generator process"
        parts = [f"{self.local} local"] if self.local else []
        parts += [f"{self.remote} remote"] if self.remote else []
        where = f", master at {self.bind}" if self.bind else ""
        return f"{' + '.join(parts) or 'no'} Locust worker(s){where}"


class Driver:
    """Drives one run; ``stop()`` (from a signal) ends the schedule early and keeps every sample."""

    def __init__(
        self, plan: Plan, sink: RunSink, workers: int | WorkerSetup, progress: ProgressFn
    ) -> None:
        self._plan = plan
        self._sink = sink
        self._setup = workers if isinstance(workers, WorkerSetup) else WorkerSetup(local=workers)
        self._progress = progress
        self._interrupted = False
        self._env: Environment | None = None
        self._procs: list[subprocess.Popen] = []
        self._roster: Roster | None = None

    def stop(self) -> None:
        self._interrupted = True
        env = self._env
        if env is None:
            return
        generator = getattr(env, "edgeperf_generator", None)
        if generator is not None:
            generator.stop()
        if self._setup.distributed and env.runner is not None:
            env.runner.send_message(locustfile.STOP_MESSAGE)

    def _start_local(self, env: Environment, plan: Plan) -> None:
        env.edgeperf_sink = self._sink  # type: ignore[attr-defined]
        env.parsed_options = _options(plan.to_json())
        runner = env.create_local_runner()
        runner.start(1, spawn_rate=1)

    def _start_workers(self, env: Environment) -> Plan:
        setup = self._setup
        bind = setup.bind or MasterAddress("127.0.0.1", _free_port())
        runner = env.create_master_runner(bind.host, bind.port)
        sink = self._sink
        runner.register_message(workerlink.ROWS_MESSAGE, lambda msg, **_: sink.add_rows(msg.data))
        runner.register_message(workerlink.DONE_MESSAGE, lambda msg, **_: sink.done(msg.data))
        runner.register_message(workerlink.JOINED_MESSAGE, lambda msg, **_: sink.joined(msg.data))
        workerlink.serve_clock(runner)
        cmd = [
            *(sys.executable, "-m", "locust", "-f", locustfile.__file__, "--worker"),
            *("--master-host", bind.connect_host(), "--master-port", str(bind.port)),
            *("--loglevel", "WARNING"),
        ]
        for _ in range(setup.local):
            self._procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL))
        self._roster = Roster(runner)
        expected = setup.local + setup.remote
        max_wait_s = setup.max_wait_s if setup.remote else max(setup.max_wait_s, 60.0)
        self._roster.wait_for(expected, max_wait_s, bind, self._procs)
        joined = len(self._roster.joined)
        sink.expected_done = joined
        start_us = wall_ns() // 1000 + int(_WORKER_START_LEAD_S * 1e6)
        plan = Plan(self._plan.base_url, self._plan.scenario, start_us, joined)
        env.parsed_options = _options(plan.to_json())
        runner.start(joined, spawn_rate=joined)
        return plan

    def _check_workers(self, t0: float) -> list[str]:
        """Notes for workers lost since the last look; their samples so far are kept."""
        roster = self._roster
        if roster is None:
            return []
        notes = []
        for index, client_id in roster.newly_lost(self._sink.reported()):
            at_s = max(0.0, time.time() - t0)
            notes.append(
                f"worker {index} ({client_id}) was lost {at_s:.1f} s into the schedule (no "
                "heartbeat, or it quit) before finishing it; its samples until then are kept"
            )
            self._sink.worker_lost()
        return notes

    def run(self, total_s: float) -> DriveResult:
        env = Environment(
            user_classes=[locustfile.OpenModelUser], events=locust.events, host=self._plan.base_url
        )
        env.edgeperf_driven = True  # type: ignore[attr-defined]
        self._env = env
        handlers = [
            gevent.signal_handler(sig, self.stop) for sig in (signal.SIGINT, signal.SIGTERM)
        ]
        notes: list[str] = []
        try:
            if self._setup.distributed:
                plan = self._start_workers(env)
            else:
                start_us = wall_ns() // 1000 + int(_START_LEAD_S * 1e6)
                plan = Plan(self._plan.base_url, self._plan.scenario, start_us, 1)
                self._start_local(env, plan)
            t0 = plan.start_epoch_us / 1e6
            stop_deadline: float | None = None
            drain = drain_s(self._plan.scenario)
            watchdog_s = total_s + drain + WATCHDOG_MARGIN_S
            while not self._sink.finished.wait(timeout=1.0):
                elapsed_s = max(0.0, time.time() - t0)
                self._progress(self._sink.live, elapsed_s)
                notes.extend(self._check_workers(t0))
                if elapsed_s > watchdog_s and stop_deadline is None:
                    notes.append(
                        f"{WATCHDOG_NOTE}: the run outlived its {total_s:g} s schedule, the "
                        f"{drain:g} s drain and a {WATCHDOG_MARGIN_S:g} s "
                        "margin; it was stopped and what was measured is kept"
                    )
                    self.stop()
                    self._interrupted = False
                    stop_deadline = time.monotonic() + 3.0
                if self._interrupted and stop_deadline is None:
                    stop_deadline = time.monotonic() + 3.0
                if stop_deadline is not None and time.monotonic() > stop_deadline:
                    notes.append("not every generator reported back after the interrupt")
                    break
            watchdog = any(note.startswith(WATCHDOG_NOTE) for note in notes)
            lost = sorted(self._roster.lost) if self._roster else []
            master = None
            if self._setup.distributed:
                master = str(self._setup.bind) if self._setup.bind else "127.0.0.1 (local)"
            return DriveResult(
                self._sink.generators, self._interrupted, plan.start_epoch_us, notes, watchdog,
                lost, master, [self._sink.clocks[i] for i in sorted(self._sink.clocks)],
            )  # fmt: skip
        finally:
            for handler in handlers:
                handler.cancel()
            if env.runner is not None:
                env.runner.quit()
            for proc in self._procs:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()


__all__ = [
    "DRAIN_GRACE_S",
    "WATCHDOG_NOTE",
    "DriveResult",
    "Driver",
    "RunSink",
    "WorkerSetup",
    "drain_s",
    "off_the_loop",
]
