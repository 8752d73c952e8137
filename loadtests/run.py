"""`edgeperf run`: scenario, (embedded stack), load, run directory, analysis, exit code."""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from analysis.api import analyze_run, format_verdict_table, write_outputs
from loadtests import rundir
from loadtests.collector import (
    DEFAULT_QUERIES,
    collect_range,
    prometheus_range_query,
    write_collected,
)
from loadtests.driver import Driver, RunSink
from loadtests.errors import EXIT_INTERRUPTED, TargetUnreachable
from loadtests.plan import Plan
from loadtests.recording import LiveStats, PartWriter
from loadtests.scenario import Scenario
from loadtests.stack.embedded import AGENT_JOB, start_embedded_stack

SCRAPE_STEP_S = 1.0


@dataclass(frozen=True)
class RunOptions:
    scenario: Scenario
    out_root: Path
    workers: int = 0
    quiet: bool = False


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _progress_printer(total_s: float, quiet: bool):
    tty = sys.stderr.isatty()
    last_line = [0.0]

    def show(live: LiveStats, elapsed_s: float) -> None:
        if quiet:
            return
        line = (
            f"[{min(elapsed_s, total_s):6.1f}s / {total_s:.0f}s]"
            f" rate {live.recent_rate_rps():7.1f} req/s"
            f"  p95 {live.recent_p95_ms():8.3f} ms  requests {live.requests}  errors {live.errors}"
        )
        if tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif elapsed_s - last_line[0] >= 5.0:
            last_line[0] = elapsed_s
            _say(line)

    return show


def check_target(base_url: str, timeout_s: float = 5.0) -> list[str]:
    """Fail fast, before any load, when nothing accepts connections at the target.

    A target that accepts connections but answers /health badly (5xx, garbage, nothing) is
    measured, not refused: that is what a performance run is for. Returns notes about it.
    """
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout_s).close()
    except OSError as exc:
        raise TargetUnreachable(
            f"target {base_url} is not reachable ({exc.strerror or type(exc).__name__}); "
            "no load was sent. Check --host, or leave it out to use the embedded stand-in."
        ) from None
    try:
        response = httpx.get(f"{base_url}/health", timeout=min(timeout_s, 2.0))
    except httpx.HTTPError as exc:
        return [f"before the load, {base_url}/health failed: {type(exc).__name__}: {exc}"[:300]]
    if response.status_code >= 400:
        return [f"before the load, {base_url}/health answered HTTP {response.status_code}"]
    return []


def execute(options: RunOptions) -> int:
    """Run a scenario end to end and return the exit code of the run contract."""
    scenario = options.scenario
    run_dir = rundir.create(options.out_root, scenario.name)
    meta = rundir.Metadata.start(run_dir, scenario)
    rundir.write_scenario(run_dir, scenario)
    writer = PartWriter(run_dir)
    with contextlib.ExitStack() as stack:
        base_url = scenario.target.host
        prom_url = scenario.target.prometheus
        if base_url is None:
            _say("edgeperf: starting the embedded stand-in stack on loopback ...")
            embedded = start_embedded_stack(
                scenario, stack, run_dir, with_prometheus=prom_url is None
            )
            base_url = embedded.agent_url
            prom_url = prom_url or embedded.prometheus_url
            meta.embedded = True
        else:
            meta.notes.extend(check_target(base_url))
        meta.target, meta.prometheus_url = base_url, prom_url
        meta.write()
        total_s = sum(s.duration for s in scenario.load.resolved_stages())
        workers = options.workers or scenario.load.workers
        _say(
            f"edgeperf: {scenario.name}: {scenario.load.rate_rps:g} req/s for {total_s:g}s "
            f"at {base_url} ({workers or 1} generator process{'es' if workers > 1 else ''})"
        )
        sink = RunSink(writer, LiveStats(), expected_done=max(1, workers))
        plan = Plan(base_url, scenario.model_dump(mode="json"), 0)
        driver = Driver(plan, sink, workers, _progress_printer(total_s, options.quiet))
        try:
            result = driver.run(total_s)
        finally:
            writer.close()
        if not options.quiet and sys.stderr.isatty():
            print(file=sys.stderr)
        meta.record_load(result, scenario, writer.rows)
        meta.write()
        _collect_server_series(run_dir, meta, prom_url)
    meta.finish()
    analysis = analyze_run(run_dir)
    write_outputs(run_dir, analysis)
    print(format_verdict_table(analysis.summary))
    print(f"report: {run_dir / 'index.html'}")
    if meta.outcome == "interrupted":
        return EXIT_INTERRUPTED
    return analysis.exit_code


def _collect_server_series(run_dir: Path, meta: rundir.Metadata, prom_url: str | None) -> None:
    start_s = meta.load["start_us"] / 1e6
    end_s = meta.load["end_us"] / 1e6
    queries = {m: q.format(job=AGENT_JOB) for m, q in DEFAULT_QUERIES.items()}
    if prom_url is None:
        skipped = [
            {"metric": m, "source": "prometheus", "query": q, "status": "skipped",
             "error": "no Prometheus URL given (--prometheus)", "points": 0}
            for m, q in queries.items()
        ]  # fmt: skip
        write_collected(run_dir, rundir.empty_collected(skipped))
        return
    # One more scrape after the load so the last seconds are in the series.
    time.sleep(max(0.0, end_s + 2 * SCRAPE_STEP_S - time.time()))
    collected = collect_range(
        queries, start_s, end_s, SCRAPE_STEP_S, prometheus_range_query(prom_url)
    )
    write_collected(run_dir, collected)


__all__ = ["RunOptions", "check_target", "execute"]
