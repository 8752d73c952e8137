"""Locust entry point: one open-model user per generator process.

Used three ways: in-process by ``edgeperf run``; as Locust workers (``edgeperf run --workers N``
starts them, or ``locust -f loadtests/locustfile.py --worker --master-host HOST`` on other
machines); and on its own with Locust's web UI (``locust -f loadtests/locustfile.py --host URL``),
where it reads ``--scenario`` and Locust's statistics, charts and CSV show the same requests.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from locust import User, events, task
from locust.exception import StopUser
from locust.runners import WorkerRunner

from loadtests.config.scenario import load_scenario
from loadtests.engine.generator import OpenModelGenerator
from loadtests.engine.mix import RequestMix, request_headers
from loadtests.engine.plan import Plan

ROWS_MESSAGE = "edgeperf_rows"
DONE_MESSAGE = "edgeperf_done"
STOP_MESSAGE = "edgeperf_stop"
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


def _plan_for(environment) -> Plan:
    options = environment.parsed_options
    text = getattr(options, "edgeperf_plan", "") if options else ""
    if text:
        return Plan.from_json(text)
    # Stand-alone Locust (web UI or headless): the scenario file and Locust's --host.
    scenario = load_scenario(getattr(options, "scenario", "scenarios/week1-baseline.yaml"))
    host = environment.host or scenario.target.host
    if not host:
        raise StopUser()
    start_us = time.time_ns() // 1000 + 200_000
    return Plan(host, scenario.model_dump(mode="json"), start_us)


def _driven_by_edgeperf(environment) -> bool:
    return bool(getattr(environment.parsed_options, "edgeperf_plan", ""))


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


class OpenModelUser(User):
    """Runs this process's share of the arrival schedule, then stops."""

    @task
    def drive(self) -> None:
        try:
            self._drive()
        except StopUser:
            raise
        except Exception as exc:  # Locust would rerun a failed task at once, again and again
            _log.exception("edgeperf: the generator failed")
            runner = self.environment.runner
            worker = runner.worker_index if isinstance(runner, WorkerRunner) else 0
            note = f"the generator failed and sent nothing more: {type(exc).__name__}: {exc}"
            _report_done(self.environment, {"worker": worker, "notes": [note[:300]]})
            raise StopUser() from None

    def _drive(self) -> None:
        environment = self.environment
        runner = environment.runner
        plan = _plan_for(environment)
        worker_index = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        sink = getattr(environment, "edgeperf_sink", None)
        if sink is None and isinstance(runner, WorkerRunner):

            def on_rows(columns) -> None:
                runner.send_message(ROWS_MESSAGE, columns)

        elif sink is None:

            def on_rows(columns) -> None:
                return None

        else:
            on_rows = sink.add_rows
        scenario = plan.model()
        generator = OpenModelGenerator(
            base_url=plan.base_url,
            schedule=plan.schedule(worker_index),
            start_epoch_us=plan.start_epoch_us,
            mix=RequestMix(
                scenario.requests,
                scenario.load.seed,
                worker_index,
                host_header=urlsplit(plan.base_url).netloc,
                headers=request_headers(scenario),
            ),
            max_concurrency=plan.per_worker_concurrency(),
            timeout_s=scenario.load.timeout,
            worker_index=worker_index,
            on_rows=on_rows,
            # edgeperf reads its own rows; Locust's per-request statistics are only for a
            # stand-alone Locust (its web UI and CSV), so edgeperf runs skip their cost.
            on_request=None
            if _driven_by_edgeperf(environment)
            else _fire_locust_stats(environment),
            timing_headers=(
                scenario.target.timing_headers.upstream_ms,
                scenario.target.timing_headers.overhead_ms,
            ),
            ca_file=scenario.target.ca_file,
            insecure=scenario.target.insecure,
        )
        environment.edgeperf_generator = generator
        stats = generator.run()
        done = {"worker": worker_index, **stats.as_dict()}
        _report_done(environment, done)
        _log.info("edgeperf: schedule finished: %s", done)
        raise StopUser()


@events.quitting.add_listener
def _stop_generator(environment, **_kw) -> None:
    generator = getattr(environment, "edgeperf_generator", None)
    if generator is not None:
        generator.stop()


@events.init.add_listener
def _listen_for_stop(environment, **_kw) -> None:
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(
            STOP_MESSAGE, lambda _msg, **_: _stop_generator(environment)
        )
