"""Locust entry point: one open-model generator per process, each with its share of the rate.

Used three ways: in-process by ``edgeperf run``; as Locust workers of an ``edgeperf run`` master
(``edgeperf run --workers N`` starts them locally; ``edgeperf worker --master HOST:PORT``, which
is ``locust -f loadtests/locustfile.py --worker``, joins from any machine); and on its own with
Locust's web UI or ``--headless`` (``locust -f loadtests/locustfile.py --host URL
[--processes N]``), pacing by ``--scenario`` with Locust's statistics fed from the same requests.

The generator is started by Locust's ``test_start`` in every process that runs load, whatever
the number of users: users only wait for it, so ``-u`` never multiplies the rate. A master
splits the schedule by the number of workers that joined.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
from locust import User, events, task
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from loadtests.config.scenario import load_scenario
from loadtests.engine import workerlink
from loadtests.engine.clocksync import Clock, estimate_offset, wall_ns
from loadtests.engine.generator import OpenModelGenerator
from loadtests.engine.mix import request_headers
from loadtests.engine.plan import Plan

# Kept here as well: the names Locust users and older code know.
ROWS_MESSAGE = workerlink.ROWS_MESSAGE
DONE_MESSAGE = workerlink.DONE_MESSAGE
STOP_MESSAGE = workerlink.STOP_MESSAGE
STANDALONE_LEAD_S = 1.0  # a stand-alone plan starts this long after Locust's test_start
_log = logging.getLogger("edgeperf")


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    group = parser.add_argument_group("edgeperf")
    group.add_argument("--edgeperf-plan", default="", help="(set by edgeperf run) the plan as JSON")
    group.add_argument(
        "--scenario",
        default="scenarios/week1-baseline.yaml",
        help="scenario file for stand-alone Locust runs (rate, mix, stages)",
    )


def _standalone_plan(environment, processes: int) -> Plan | None:
    """Stand-alone Locust (web UI or headless): the scenario file and Locust's --host."""
    options = environment.parsed_options
    scenario = load_scenario(getattr(options, "scenario", "scenarios/week1-baseline.yaml"))
    host = environment.host or scenario.target.host
    if not host:
        _log.error("edgeperf: no target: pass --host or set target.host in the scenario")
        return None
    start_us = wall_ns() // 1000 + int(STANDALONE_LEAD_S * 1e6)
    return Plan(host, scenario.model_dump(mode="json"), start_us, processes, locust_stats=True)


def _plan_for(environment) -> Plan | None:
    text = getattr(environment.parsed_options, "edgeperf_plan", "") or ""
    if not text:
        return _standalone_plan(environment, 1)  # a stand-alone Locust in one process
    return Plan.from_json(text)


def _fire_locust_stats(environment):
    fire = environment.events.request.fire

    def on_request(req, response_ms, nbytes, error, exc) -> None:
        fire(
            request_type=req.method,
            name=req.kind,
            response_time=response_ms,
            response_length=nbytes,
            exception=exc or (RuntimeError(error) if error else None),
            context={},
        )

    return on_request


def _report_done(environment, done: dict) -> None:
    """Hand a generator's final figures to edgeperf: in this process, or to the master."""
    sink = getattr(environment, "edgeperf_sink", None)
    if sink is not None:
        sink.done(done)
    elif isinstance(environment.runner, WorkerRunner):
        environment.runner.send_message(DONE_MESSAGE, done)


def _worker_index(environment) -> int:
    runner = environment.runner
    return runner.worker_index if isinstance(runner, WorkerRunner) else 0


def _drive(environment) -> None:
    """This process's generator, from plan to final report; a failure is reported, not raised."""
    try:
        _run_generator(environment)
    except Exception as exc:  # noqa: BLE001 - Locust would only log it; the master must know
        _log.exception("edgeperf: the generator failed")
        note = f"the generator failed and sent nothing more: {type(exc).__name__}: {exc}"
        _report_done(environment, {"worker": _worker_index(environment), "notes": [note[:300]]})


def _rows_sink(environment, plan: Plan):
    sink = getattr(environment, "edgeperf_sink", None)
    if sink is not None:
        return sink.add_rows
    runner = environment.runner
    if isinstance(runner, WorkerRunner) and not plan.locust_stats:
        return lambda columns: runner.send_message(ROWS_MESSAGE, columns)
    return lambda columns: None  # a stand-alone Locust keeps only its own statistics


def _run_generator(environment) -> None:
    runner = environment.runner
    plan = _plan_for(environment)
    if plan is None:
        return
    worker_index = _worker_index(environment)
    offset: dict[str, Any] = {}
    clock = Clock()
    if isinstance(runner, WorkerRunner):  # the schedule and every time on the master's clock
        measured = estimate_offset(environment.edgeperf_master_clock.ask_us)
        offset = {"node": runner.client_id, **measured.as_dict()}
        runner.send_message(workerlink.JOINED_MESSAGE, {"worker": worker_index, **offset})
        clock = Clock(measured.offset_us)
    scenario = plan.model()
    _log.info(
        "edgeperf: process %d of %d sends %g req/s, its share of %s's %g req/s, to %s",
        worker_index + 1, plan.worker_count, plan.rate_share_rps(), scenario.name,
        scenario.load.steady_rate_rps(), plan.base_url,
    )  # fmt: skip
    generator = OpenModelGenerator(
        base_url=plan.base_url,
        schedule=plan.schedule(worker_index),
        start_epoch_us=plan.start_epoch_us,
        mix=plan.mix(worker_index, request_headers(scenario)),
        max_concurrency=plan.per_worker_concurrency(),
        timeout_s=scenario.load.timeout,
        worker_index=worker_index,
        on_rows=_rows_sink(environment, plan),
        # Locust's per-request events only where something reads them (its UI, CSV, stats).
        on_request=_fire_locust_stats(environment) if plan.locust_stats else None,
        clock=clock,
        timing_headers=(
            scenario.target.timing_headers.upstream_ms,
            scenario.target.timing_headers.overhead_ms,
        ),
        ca_file=scenario.target.ca_file,
        insecure=scenario.target.insecure,
    )
    environment.edgeperf_generator = generator
    stats = generator.run()
    done = {"worker": worker_index, **stats.as_dict(), **offset}
    _report_done(environment, done)
    _log.info("edgeperf: schedule finished: %s", done)


class OpenModelUser(User):
    """Waits for this process's generator: the number of users never changes the rate."""

    @task
    def drive(self) -> None:
        greenlet = getattr(self.environment, "edgeperf_drive", None)
        if greenlet is not None:
            greenlet.join()
        raise StopUser()


@events.test_start.add_listener
def _start(environment, **_kw) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        if not getattr(environment, "edgeperf_driven", False):  # stand-alone: split the rate
            workers = len(runner.clients.ready) or 1
            plan = _standalone_plan(environment, workers)
            if plan is not None:
                environment.parsed_options.edgeperf_plan = plan.to_json()
                _log.info(
                    "edgeperf: %d worker process(es) share %g req/s: %g req/s each",
                    workers, plan.model().load.steady_rate_rps(), plan.rate_share_rps(),
                )  # fmt: skip
        return
    running = getattr(environment, "edgeperf_drive", None)
    if running is None or running.dead:
        environment.edgeperf_drive = gevent.spawn(_drive, environment)


@events.test_stop.add_listener
@events.quitting.add_listener
def _stop_generator(environment, **_kw) -> None:
    generator = getattr(environment, "edgeperf_generator", None)
    if generator is not None:
        generator.stop()


def _master_lost(environment, silence_s: float) -> None:
    _log.error("edgeperf: no heartbeat from the master for %.0f s: stopping the load", silence_s)
    _stop_generator(environment)
    environment.process_exit_code = workerlink.MASTER_LOST_EXIT
    environment.runner.quit()


@events.init.add_listener
def _wire_messages(environment, **_kw) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):  # a stand-alone Locust master
        workerlink.serve_clock(runner)
        for name in (workerlink.JOINED_MESSAGE, DONE_MESSAGE):
            runner.register_message(name, lambda msg, **_: _log.info("edgeperf: %s", msg.data))
    elif isinstance(runner, WorkerRunner):
        runner.register_message(STOP_MESSAGE, lambda **_: _stop_generator(environment))
        environment.edgeperf_master_clock = workerlink.MasterClock(runner)
        workerlink.watch_master(environment, lambda s: _master_lost(environment, s))
