"""`edgeperf run`: scenario, (embedded stack), load, run directory, analysis, exit code."""

from __future__ import annotations

import contextlib
import importlib
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from loadtests.config.profiles import (
    Profile,
    default_profile_name,
    resolve_profile,
    with_profile_name,
)
from loadtests.config.scenario import Scenario
from loadtests.engine.address import MasterAddress
from loadtests.engine.client import tls_context
from loadtests.engine.driver import Driver, RunSink, WorkerSetup, drain_s, off_the_loop
from loadtests.engine.mix import request_headers
from loadtests.engine.plan import Plan
from loadtests.errors import EXIT_INTERRUPTED, HarnessError, Interrupted, TargetUnreachable
from loadtests.failures import failure_sentence
from loadtests.interrupts import deferred_interrupt
from loadtests.placement import Placement, decide
from loadtests.recording import metadata as rundir
from loadtests.recording.harnesslog import harness_log
from loadtests.recording.samples import LiveStats, PartWriter
from loadtests.serverside.collector import write_collected
from loadtests.serverside.session import ServerSide, processes_for
from loadtests.stack.launchers.embedded import EmbeddedStack, start_embedded_stack

if TYPE_CHECKING:
    from types import ModuleType


def _analysis() -> ModuleType:
    """The analysis (matplotlib and the report: about 0.7 s of imports), loaded on first use;
    an embedded run loads it while Prometheus finds its targets."""
    return importlib.import_module("analysis.api")


@dataclass(frozen=True)
class RunOptions:
    scenario: Scenario
    out_root: Path
    workers: int = 0
    quiet: bool = False
    quiet_summary: bool = False  # no verdict table (runs inside a larger experiment)
    with_prometheus: bool = True  # False: the embedded stack runs without Prometheus
    master_bind: MasterAddress | None = None  # listen for workers from other machines here
    expect_workers: int = 0  # workers that join from elsewhere (edgeperf worker --master)
    expect_workers_max_wait_s: float = 60.0

    def __post_init__(self) -> None:
        if self.expect_workers < 0:
            raise ValueError(f"--expect-workers {self.expect_workers}: must be 0 or more")
        if self.expect_workers and self.master_bind is None:
            raise ValueError("--expect-workers needs --master-bind HOST:PORT for workers to join")
        if self.master_bind is not None and not self.expect_workers:
            raise ValueError("--master-bind needs --expect-workers N: how many workers to wait for")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _progress_printer(
    total_s: float, quiet: bool, server_text: Callable[[], str] = str, drain_s: float = 0.0
):
    tty = sys.stderr.isatty()
    last_line = [0.0]

    def show(live: LiveStats, elapsed_s: float) -> None:
        if quiet:
            return
        counts = f"requests {live.requests}  errors {live.errors}"
        if elapsed_s > total_s:  # the schedule is over: say so, and until when at most
            line = (
                f"[{elapsed_s:6.1f}s / {total_s:.0f}s] schedule done; draining the requests "
                f"in flight, at most until {total_s + drain_s:.0f}s  {counts}"
            )
        else:
            line = (
                f"[{elapsed_s:6.1f}s / {total_s:.0f}s] rate {live.recent_rate_rps():7.1f} req/s"
                f"  p95 {live.recent_p95_ms():8.3f} ms  {counts}"
            )
            server = server_text()
            line += f"  {server}" if server else ""
        if tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif elapsed_s - last_line[0] >= 5.0:
            last_line[0] = elapsed_s
            _say(line)

    return show


def check_target(
    base_url: str, timeout_s: float = 5.0, *, ca_file: str | None = None, insecure: bool = False
) -> list[str]:
    """Fail fast, before any load, when nothing accepts connections at the target or, for an
    https:// target, its TLS handshake fails with the client's settings (``tls_context``).

    A target that accepts connections but answers /health badly (5xx, garbage, nothing) is
    measured, not refused: that is what a performance run is for. Returns notes about it.
    """
    parts = urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    tls = tls_context(ca_file, insecure) if parts.scheme == "https" else None
    port = parts.port or (443 if tls is not None else 80)
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        raise TargetUnreachable(
            f"{failure_sentence(f'target {base_url}', exc, timeout_s)}; no load was sent. "
            "Check --host, or leave it out to use the embedded stand-in."
        ) from None
    with sock:
        if tls is not None:
            _check_tls(base_url, tls, sock, host, ca_file)
    try:
        response = httpx.get(
            f"{base_url}/health", timeout=min(timeout_s, 2.0), verify=True if tls is None else tls
        )
    except httpx.HTTPError as exc:
        failed = failure_sentence(f"{base_url}/health", exc, min(timeout_s, 2.0))
        return [f"before the load, {failed}"]
    if response.status_code >= 400:
        return [f"before the load, {base_url}/health answered HTTP {response.status_code}"]
    return []


def _check_tls(
    base_url: str, tls: ssl.SSLContext, sock: socket.socket, host: str, ca_file: str | None
) -> None:
    """A TLS handshake on ``sock``; a failure raises TargetUnreachable in one sentence."""
    try:
        tls.wrap_socket(sock, server_hostname=host).close()
    except ssl.SSLCertVerificationError as exc:
        reason = (exc.verify_message or exc.reason or "certificate rejected").rstrip(".")
        with_ca = f", CA file {ca_file}" if ca_file else ""
        raise TargetUnreachable(
            f"target {base_url} failed TLS verification ({reason}{with_ca}); "
            "pass --ca-file with its CA or --insecure; no load was sent"
        ) from None
    except OSError as exc:  # ssl.SSLError included: no TLS there, or a broken handshake
        reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
        raise TargetUnreachable(
            f"target {base_url} did not complete a TLS handshake ({reason}); "
            "is it served over https? no load was sent"
        ) from None


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    exit_code: int


def execute(options: RunOptions) -> int:
    """Run a scenario end to end and return the exit code of the run contract."""
    return run_scenario(options).exit_code


def run_scenario(options: RunOptions) -> RunOutcome:
    """Run a scenario end to end: its run directory and the exit code of the run contract."""
    profile = resolve_profile(options.scenario)  # a bad profile fails here, before anything
    request_headers(options.scenario)  # so does an API key variable that is not set
    scenario = with_profile_name(options.scenario, default_profile_name(options.scenario))
    run_dir = rundir.create(options.out_root, scenario.name)
    meta = rundir.Metadata.start(run_dir, scenario)
    rundir.write_scenario(run_dir, scenario)
    writer = PartWriter(run_dir, offload=off_the_loop)  # parts written off the event loop
    workers = options.workers or scenario.load.workers
    placement = _placement(scenario, workers, meta)
    with contextlib.ExitStack() as stack:
        stack.enter_context(harness_log(run_dir))  # the detail behind the plain messages
        base_url = scenario.target.host
        prom_url = scenario.target.prometheus
        agent_pid = None
        pids: dict[str, int] = {}
        if base_url is None:
            try:  # a Ctrl-C is acted on once every process started is in ``stack``
                with deferred_interrupt() as interrupted, placement.stack_cpus():
                    _say("edgeperf: starting the embedded stand-in stack on loopback ...")
                    embedded = start_embedded_stack(
                        scenario,
                        stack,
                        run_dir,
                        with_prometheus=prom_url is None and options.with_prometheus,
                        meanwhile=_analysis,
                    )
            except KeyboardInterrupt:  # a second Ctrl-C, at once
                raise _stopped(meta, "while starting the embedded stack") from None
            if interrupted():  # unwinding ``stack`` stops the processes
                raise _stopped(meta, "while starting the embedded stack")
            base_url = _embedded_target(scenario, embedded)
            prom_url = prom_url or embedded.prometheus_url
            agent_pid = embedded.pids.get("agent")
            pids = embedded.pids
            meta.embedded = True
        else:
            target = scenario.target
            meta.notes.extend(
                check_target(base_url, ca_file=target.ca_file, insecure=target.insecure)
            )
        placement.pin_generator()
        stack.callback(placement.release)
        meta.placement = placement.record(pids).as_dict()
        meta.target, meta.prometheus_url = base_url, prom_url
        meta.write()
        server = _server_side(scenario, profile, prom_url, agent_pid, meta)
        total_s = sum(s.duration for s in scenario.load.resolved_stages())
        stages = scenario.load.resolved_stages()
        rates = (
            f"{scenario.load.rate_rps:g} req/s"
            if not scenario.load.stages
            else " → ".join(f"{s.rate_rps:g}" for s in stages) + " req/s in stages"
        )
        if scenario.load.trace is not None:
            rates = f"trace {Path(scenario.load.trace.file).name} at {stages[0].rate_rps:.4g} req/s"
        setup = _worker_setup(options, workers)
        _say(f"edgeperf: {scenario.name}: {rates} for {total_s:g}s at {base_url} ({setup})")
        sink = RunSink(writer, LiveStats(), expected_done=max(1, workers))
        plan = Plan(base_url, scenario.model_dump(mode="json"), 0)
        progress = _progress_printer(
            total_s, options.quiet, server.live_text, drain_s(plan.scenario)
        )
        driver = Driver(plan, sink, setup, progress)
        try:
            with server.observing():
                result = driver.run(total_s)
        except HarnessError as exc:  # workers that never joined: nothing was sent
            meta.outcome = "aborted"
            meta.notes.append(f"aborted before the load: {exc}")
            meta.finish()
            raise
        finally:
            writer.close()
        if not options.quiet and sys.stderr.isatty():
            print(file=sys.stderr)
        meta.record_load(result, scenario, writer.rows)
        meta.write()
        _collect_server_series(run_dir, meta, server)
    meta.finish()
    api = _analysis()
    analysis = api.analyze_run(run_dir)
    api.write_outputs(run_dir, analysis)
    if not options.quiet_summary:
        print(api.format_verdict_table(analysis.result))
        print(f"report: {run_dir / 'index.html'}")
    code = EXIT_INTERRUPTED if meta.outcome == "interrupted" else analysis.exit_code
    return RunOutcome(run_dir, code)


def _embedded_target(scenario: Scenario, embedded: EmbeddedStack) -> str:
    """The embedded stack's URL the load goes to: its gateway, or with via direct its upstream."""
    if scenario.target.via == "gateway":
        return embedded.agent_url
    if embedded.agent_direct_url is None:
        raise HarnessError("the embedded stand-in did not announce its direct listener")
    return embedded.agent_direct_url


def _worker_setup(options: RunOptions, local: int) -> WorkerSetup:
    return WorkerSetup(
        local, options.expect_workers, options.master_bind, options.expect_workers_max_wait_s
    )


def _stopped(meta: rundir.Metadata, when: str) -> Interrupted:
    """A Ctrl-C before the load: the run directory says so, the CLI prints it and exits 130."""
    meta.outcome = "interrupted"
    meta.notes.append(f"interrupted {when}; nothing was measured")
    meta.finish()
    return Interrupted(f"interrupted {when}; nothing was measured")


def _placement(scenario: Scenario, workers: int, meta: rundir.Metadata) -> Placement:
    """Where the generator and the embedded stack run; a setting that does not fit aborts."""
    try:
        placement = decide(
            scenario.load.placement,
            embedded=scenario.target.host is None,
            generator_processes=max(1, workers),
        )
    except HarnessError as exc:
        meta.outcome = "aborted"
        meta.notes.append(f"aborted before the load: {exc}")
        meta.finish()
        raise
    meta.notes.extend(f"placement: {note}" for note in placement.notes)
    return placement


def _server_side(
    scenario: Scenario,
    profile: Profile,
    prom_url: str | None,
    agent_pid: int | None,
    meta: rundir.Metadata,
) -> ServerSide:
    """The run's server-side sources, checked; a bad query or process aborts before any load."""
    try:
        server = ServerSide(profile, prom_url, processes_for(scenario.metrics.process, agent_pid))
        server.check()
    except HarnessError as exc:
        meta.outcome = "aborted"
        meta.notes.append(f"aborted before the load: {exc}")
        meta.finish()
        raise
    for note in server.notes:
        meta.notes.append(note)
        _say(f"edgeperf: warning: {note}")
    return server


def _collect_server_series(run_dir: Path, meta: rundir.Metadata, server: ServerSide) -> None:
    start_s = meta.load["start_us"] / 1e6
    # An interrupted run ends before its schedule does; then wait for the scrapes after the
    # load (the profile's settle time) so the last seconds are in the series.
    end_s = min(meta.load["end_us"] / 1e6, time.time()) + server.settle_s
    if server.settle_s > 5:
        _say(f"edgeperf: waiting {server.settle_s:g} s for the last scrapes and exports ...")
    time.sleep(max(0.0, end_s - time.time()))
    notes_before = len(server.notes)
    write_collected(run_dir, server.collect(start_s, end_s))
    for note in server.notes[notes_before:]:
        meta.notes.append(note)
        _say(f"edgeperf: {note}")
    meta.write()


__all__ = ["RunOptions", "RunOutcome", "check_target", "execute", "run_scenario"]
