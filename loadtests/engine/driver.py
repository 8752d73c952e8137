"""Runs the plan on Locust: in this process, or as a master with local worker processes."""

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
from loadtests.engine.plan import Plan
from loadtests.errors import StackError
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
        self.finished = gevent.event.Event()

    def add_rows(self, columns: Columns) -> None:
        self.writer.add(columns)
        self.live.add(columns)

    def done(self, stats: dict[str, Any]) -> None:
        self.generators.append(stats)
        if len(self.generators) >= self.expected_done:
            self.finished.set()


@dataclass
class DriveResult:
    generators: list[dict[str, Any]]
    interrupted: bool
    start_epoch_us: int
    notes: list[str] = field(default_factory=list)
    watchdog: bool = False  # the run outlived schedule + drain + margin and was stopped


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _options(plan_json: str) -> Any:
    parser = get_parser(default_config_files=[])
    return parser.parse_args(["--headless", "--edgeperf-plan", plan_json])


class Driver:
    """Drives one run; ``stop()`` (from a signal) ends the schedule early and keeps every sample."""

    def __init__(self, plan: Plan, sink: RunSink, workers: int, progress: ProgressFn) -> None:
        self._plan = plan
        self._sink = sink
        self._workers = workers
        self._progress = progress
        self._interrupted = False
        self._env: Environment | None = None
        self._procs: list[subprocess.Popen] = []

    def stop(self) -> None:
        self._interrupted = True
        env = self._env
        if env is None:
            return
        generator = getattr(env, "edgeperf_generator", None)
        if generator is not None:
            generator.stop()
        if self._workers and env.runner is not None:
            env.runner.send_message(locustfile.STOP_MESSAGE)

    def _start_local(self, env: Environment, plan: Plan) -> None:
        env.edgeperf_sink = self._sink  # type: ignore[attr-defined]
        env.parsed_options = _options(plan.to_json())
        runner = env.create_local_runner()
        runner.start(1, spawn_rate=1)

    def _start_workers(self, env: Environment) -> Plan:
        port = _free_port()
        runner = env.create_master_runner("127.0.0.1", port)
        runner.register_message(
            locustfile.ROWS_MESSAGE, lambda msg, **_: self._sink.add_rows(msg.data)
        )
        runner.register_message(locustfile.DONE_MESSAGE, lambda msg, **_: self._sink.done(msg.data))
        cmd = [
            *(sys.executable, "-m", "locust", "-f", locustfile.__file__, "--worker"),
            *("--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"),
        ]
        for _ in range(self._workers):
            self._procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while len(runner.clients.ready) < self._workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self._procs):
                raise StackError(
                    f"only {len(runner.clients.ready)} of {self._workers} Locust workers connected"
                )
            gevent.sleep(0.1)
        start_us = time.time_ns() // 1000 + int(_WORKER_START_LEAD_S * 1e6)
        plan = Plan(self._plan.base_url, self._plan.scenario, start_us, self._workers)
        env.parsed_options = _options(plan.to_json())
        runner.start(self._workers, spawn_rate=self._workers)
        return plan

    def run(self, total_s: float) -> DriveResult:
        env = Environment(
            user_classes=[locustfile.OpenModelUser], events=locust.events, host=self._plan.base_url
        )
        self._env = env
        handlers = [
            gevent.signal_handler(sig, self.stop) for sig in (signal.SIGINT, signal.SIGTERM)
        ]
        notes: list[str] = []
        try:
            if self._workers:
                plan = self._start_workers(env)
            else:
                start_us = time.time_ns() // 1000 + int(_START_LEAD_S * 1e6)
                plan = Plan(self._plan.base_url, self._plan.scenario, start_us, 1)
                self._start_local(env, plan)
            t0 = plan.start_epoch_us / 1e6
            stop_deadline: float | None = None
            watchdog_s = total_s + drain_s(self._plan.scenario) + WATCHDOG_MARGIN_S
            while not self._sink.finished.wait(timeout=1.0):
                elapsed_s = max(0.0, time.time() - t0)
                self._progress(self._sink.live, elapsed_s)
                if elapsed_s > watchdog_s and stop_deadline is None:
                    notes.append(
                        f"{WATCHDOG_NOTE}: the run outlived its {total_s:g} s schedule, the "
                        f"{drain_s(self._plan.scenario):g} s drain and a {WATCHDOG_MARGIN_S:g} s "
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
                if self._workers and any(p.poll() is not None for p in self._procs):
                    notes.append("a Locust worker process exited before the end of the schedule")
                    break
            watchdog = any(note.startswith(WATCHDOG_NOTE) for note in notes)
            return DriveResult(
                self._sink.generators, self._interrupted, plan.start_epoch_us, notes, watchdog
            )
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
    "drain_s",
    "off_the_loop",
]
