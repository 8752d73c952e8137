"""The stand-in agent on its lean asyncio server beside the same agent on uvicorn (httptools).

``python -m loadtests.experiments.serverbench`` starts the agent alone on loopback (telemetry
off) for each server in turn, drives it with hey at a fixed rate and prints, per scenario, the
latency percentiles hey saw, the achieved rate, the agent's CPU per request and its peak RSS:
medians of ``--repeat`` runs, the servers interleaved (lean, uvicorn, lean, uvicorn, ...), a
fresh agent per run. A benchmark, not a test: wrap it in ``flock`` on a shared machine.

hey's CSV keeps 0.1 ms resolution, so every percentile is a multiple of 0.1 ms. Its ``-q`` is
per worker: the rate is split over ``--connections`` workers, each closed-loop on its own
keep-alive connection.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from loadtests.placement import decide, format_cpu_list, pinned
from loadtests.stack.agent.app import CHAT_PATH
from loadtests.stack.agent.config import HTTP_SERVERS, AgentConfig, HttpServer
from loadtests.stack.launchers.launch import start_agent

CHAT_BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
_BASE = AgentConfig(telemetry=False, upstream_distribution="lognormal", upstream_sigma=0.4)


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    path: str
    config: AgentConfig
    post: bool = False


SCENARIOS = (
    Scenario("health", "GET /health (answered at once)", "/health", _BASE),
    Scenario(
        "chat-hit",
        "POST chat, cache on, upstream lognormal 3 ms: every request after the first is an L1 hit",
        CHAT_PATH,
        dataclasses.replace(_BASE, upstream_median_ms=3.0),
        post=True,
    ),
    Scenario(
        "chat-up0",
        "POST chat, cache off, upstream 0 ms: the server plus a coroutine per request",
        CHAT_PATH,
        dataclasses.replace(_BASE, cache=False, upstream_median_ms=0.0),
        post=True,
    ),
    Scenario(
        "chat-up3",
        "POST chat, cache off, upstream lognormal median 3 ms sigma 0.4",
        CHAT_PATH,
        dataclasses.replace(_BASE, cache=False, upstream_median_ms=3.0),
        post=True,
    ),
)


@dataclass(frozen=True)
class Figures:
    server: str
    rate_rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    cpu_us_per_request: float
    peak_rss_mib: float
    errors: int


FIELDS = [f.name for f in dataclasses.fields(Figures)][1:]


def _cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` from /proc (fields 14 and 15), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _hey(url: str, scenario: Scenario, rate: float, duration_s: float, conns: int) -> str:
    command = ["hey", "-z", f"{duration_s:g}s", "-c", str(conns), "-q", f"{rate / conns:g}"]
    if scenario.post:
        command += ["-m", "POST", "-T", "application/json", "-d", CHAT_BODY]
    command += ["-o", "csv", url + scenario.path]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _percentile(values_ms: np.ndarray, q: float) -> float:
    return float(np.percentile(values_ms, q, method="inverted_cdf"))


def run_once(
    scenario: Scenario,
    server: HttpServer,
    args: argparse.Namespace,
    work: Path,
    stack: tuple[int, ...],
) -> tuple[Figures, str]:
    """One fresh agent on ``server``, warmed up, then measured; its figures and hey's CSV."""
    config = dataclasses.replace(scenario.config, http_server=server)
    with pinned(stack):
        agent = start_agent(config, work / f"agent-{server}")
    with agent:
        _hey(agent.url, scenario, args.rate, args.warmup, args.connections)
        cpu0 = _cpu_s(agent.pid)
        out = _hey(agent.url, scenario, args.rate, args.duration, args.connections)
        cpu_s = _cpu_s(agent.pid) - cpu0
        peak_mib = _peak_rss_mib(agent.pid)
    rows = list(csv.DictReader(io.StringIO(out)))
    latency_ms = np.array([float(r["response-time"]) * 1000 for r in rows])
    offsets_s = np.array([float(r["offset"]) for r in rows])
    span_s = float(offsets_s.max() - offsets_s.min()) or args.duration
    errors = int(sum(r["status-code"] != "200" for r in rows))
    p50, p90, p99, p999 = (_percentile(latency_ms, q) for q in (50, 90, 99, 99.9))
    figures = Figures(
        server=server,
        rate_rps=len(rows) / span_s,
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        p999_ms=p999,
        max_ms=float(latency_ms.max()),
        cpu_us_per_request=1e6 * cpu_s / max(1, len(rows)),
        peak_rss_mib=peak_mib,
        errors=errors,
    )
    return figures, out


def _server(name: str) -> HttpServer:
    if name in HTTP_SERVERS:
        return cast(HttpServer, name)
    raise SystemExit(f"serverbench: unknown server {name!r}; use {' or '.join(HTTP_SERVERS)}")


def _median(runs: list[Figures]) -> Figures:
    values = [statistics.median(getattr(f, name) for f in runs) for name in FIELDS]
    return Figures(runs[0].server, *values)


def _table(rows: list[Figures]) -> str:
    head = (
        f"{'server':<8} {'req/s':>7} {'P50 ms':>7} {'P90 ms':>7} {'P99 ms':>7} {'P99.9 ms':>8} "
        f"{'max ms':>7} {'CPU µs/req':>10} {'peak RSS MiB':>12} {'non-200':>7}"
    )
    lines = [head, "-" * len(head)]
    for f in rows:
        lines.append(
            f"{f.server:<8} {f.rate_rps:>7.1f} {f.p50_ms:>7.2f} {f.p90_ms:>7.2f} "
            f"{f.p99_ms:>7.2f} {f.p999_ms:>8.2f} {f.max_ms:>7.2f} {f.cpu_us_per_request:>10.1f} "
            f"{f.peak_rss_mib:>12.1f} {f.errors:>7.0f}"
        )
    return "\n".join(lines)


def _spread(runs: list[Figures]) -> str:
    """Each run's P99 / P99.9 / max, so the reader sees how much the medians hide."""
    return "  ".join(f"{f.p99_ms:.2f}/{f.p999_ms:.2f}/{f.max_ms:.1f}" for f in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=1000.0, help="requests a second, in all")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each")
    parser.add_argument("--connections", type=int, default=10, help="hey workers (-c)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per server (medians shown)")
    parser.add_argument(
        "--scenarios", default=",".join(s.name for s in SCENARIOS), help="comma-separated"
    )
    parser.add_argument("--servers", default=",".join(HTTP_SERVERS), help="comma-separated")
    parser.add_argument("--keep-csv", type=Path, help="save each run's hey CSV in this directory")
    args = parser.parse_args(argv)
    if shutil.which("hey") is None:
        print("serverbench: hey is not installed (Debian/Ubuntu: apt-get install hey)")
        return 2
    wanted = args.scenarios.split(",")
    servers = [_server(name) for name in args.servers.split(",")]
    placement = decide("auto", embedded=True, generator_processes=1)
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"{args.rate:g} req/s over {args.connections} connections, {args.duration:g} s runs "
        f"after {args.warmup:g} s warm-up, {args.repeat} runs per server interleaved; medians",
        flush=True,
    )
    if placement.generator:
        print(
            f"placement: agent on CPU {format_cpu_list(placement.stack)}, "
            f"hey on CPU {format_cpu_list(placement.generator)}",
            flush=True,
        )
    if args.keep_csv:
        args.keep_csv.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="edgeperf-serverbench-") as tmp,
        pinned(placement.generator),
    ):
        for scenario in (s for s in SCENARIOS if s.name in wanted):
            runs: dict[str, list[Figures]] = {server: [] for server in servers}
            for rep in range(args.repeat):
                for server in servers:
                    started = time.monotonic()
                    figures, out = run_once(scenario, server, args, Path(tmp), placement.stack)
                    runs[server].append(figures)
                    if args.keep_csv:
                        name = f"{scenario.name}-{server}-{rep + 1}.csv"
                        (args.keep_csv / name).write_text(out)
                    print(
                        f"  {scenario.name} {server} run {rep + 1}: P99 {figures.p99_ms:.2f} "
                        f"P99.9 {figures.p999_ms:.2f} max {figures.max_ms:.1f} ms "
                        f"({time.monotonic() - started:.0f} s)",
                        flush=True,
                    )
            print(f"\n{scenario.name}: {scenario.what}")
            print(_table([_median(runs[server]) for server in servers]))
            for server in servers:
                print(f"  {server} runs, P99/P99.9/max ms: {_spread(runs[server])}")
            print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
