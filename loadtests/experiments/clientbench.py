"""`make bench`: the harness beside hey on the same fast loopback target, edgeperf alone at
10,000 req/s, then a 1 s freeze.

A benchmark, not a test: it prints side-by-side figures (medians of --repeat runs) for people to
read. hey is the reference open-source client (Debian package ``hey``); it keeps 0.1 ms resolution
in its CSV output, so its percentiles are rounded to that.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from loadtests.engine.generator import CLIENT_ENV
from loadtests.engine.hubtimer import TIMER_ENV
from loadtests.placement import decide, format_cpu_list, pinned

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Figures:
    tool: str
    rate_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    cpu_percent: float  # of one core, while the load ran
    cpu_us_per_request: float
    # Share of responses faster than each of EDGES_MS: hey's CSV rounds to 0.1 ms, so its
    # rounded value v means the truth lies in [v - 0.05, v + 0.05); below these bin edges the two
    # tools compare exactly, where hey's own percentiles only compare to ±0.05 ms.
    below: tuple[float, ...] = ()


EDGES_MS = (0.15, 0.25, 0.35, 0.55, 1.05)


def _below_edges(response_ms: np.ndarray, rounded: bool) -> tuple[float, ...]:
    """Share of responses under each edge; ``rounded`` values are hey's 0.1 ms bins."""
    values = np.round(response_ms, 1) if rounded else response_ms
    return tuple(float(np.mean(values < edge)) for edge in EDGES_MS)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _nearest_rank(values_ms: np.ndarray, q: float) -> float:
    return float(np.percentile(values_ms, q, method="inverted_cdf"))


class Target:
    """benchtarget in a subprocess; ``freeze`` = (at_s, for_s) after start, or None."""

    def __init__(self, work: Path, freeze: tuple[float, float] | None = None) -> None:
        ready = work / f"target-{time.monotonic_ns()}.json"
        cmd = [
            sys.executable,
            "-m",
            "loadtests.experiments.benchtarget",
            "--ready-file",
            str(ready),
        ]
        if freeze:
            cmd += ["--freeze-at", str(freeze[0]), "--freeze-for", str(freeze[1])]
        self.proc = subprocess.Popen(cmd, cwd=REPO)
        deadline = time.monotonic() + 10
        while not ready.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the bench target did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{json.loads(ready.read_text())['port']}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)


def run_hey(url: str, rate_rps: float, duration_s: float, connections: int = 10) -> Figures:
    per_worker = rate_rps / connections
    cpu0 = _children_cpu_s()
    out = subprocess.run(
        ["hey", "-z", f"{duration_s:g}s", "-c", str(connections), "-q", f"{per_worker:g}",
         "-o", "csv", f"{url}/health"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    cpu_s = _children_cpu_s() - cpu0
    rows = list(csv.DictReader(io.StringIO(out)))
    response_ms = np.array([float(r["response-time"]) * 1000 for r in rows])
    offsets_s = np.array([float(r["offset"]) for r in rows])
    span_s = float(offsets_s.max() - offsets_s.min()) or duration_s
    return Figures(
        "hey", len(rows) / span_s,
        _nearest_rank(response_ms, 50), _nearest_rank(response_ms, 95),
        _nearest_rank(response_ms, 99),
        100 * cpu_s / duration_s, 1e6 * cpu_s / max(1, len(rows)),
        _below_edges(response_ms, rounded=True),
    )  # fmt: skip


def run_harness(
    url: str, rate_rps: float, duration_s: float, work: Path, cap: int, client: str | None = None
) -> Figures:
    """One edgeperf run; ``client`` "greenlet" sends each request from a greenlet of its own
    (``CLIENT_ENV``) instead of the event loop's callbacks."""
    scenario = work / "bench.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "bench",
                "load": {"rate_rps": rate_rps, "ramp": "0s", "duration": f"{duration_s:g}s",
                         "max_concurrency": cap},
                "requests": [{"kind": "health", "weight": 1, "path": "/health"}],
                "targets": {"latency_p99_ms": "< 1000000"},
            }
        )
    )  # fmt: skip
    out = work / "runs"
    env = {k: v for k, v in os.environ.items() if k not in (TIMER_ENV, CLIENT_ENV)}
    if client is not None:
        env[CLIENT_ENV] = client
    subprocess.run(
        [sys.executable, "-m", "loadtests.cli", "run", str(scenario), "--host", url,
         "--out", str(out), "--quiet"],
        cwd=REPO, capture_output=True, text=True, env=env,
    )  # fmt: skip
    (run_dir,) = [p for p in out.iterdir() if (p / "summary.json").exists()]
    summary = json.loads((run_dir / "summary.json").read_text())
    meta = json.loads((run_dir / "metadata.json").read_text())
    latency = summary["measurements"]["latency_ms"]
    requests = summary["measurements"]["requests"]
    generator = meta["generator"]
    parts = sorted((run_dir / "samples").glob("*.parquet"))
    columns = ["intended_us", "done_us"]
    samples = pd.concat(pd.read_parquet(p, columns=columns) for p in parts)
    response_ms = (samples["done_us"] - samples["intended_us"]).to_numpy() / 1000
    shutil.rmtree(out)
    return Figures(
        "edgeperf" if client is None else f"ep-{client}", summary["measurements"]["rate_rps"],
        latency["p50"], latency["p95"], latency["p99"],
        100 * generator["cpu_s"] / generator["wall_s"], 1e6 * generator["cpu_s"] / max(1, requests),
        _below_edges(response_ms, rounded=False),
    )  # fmt: skip


def _median(figures: list[Figures]) -> Figures:
    def med(name: str) -> float:
        return statistics.median(getattr(f, name) for f in figures)

    fields = ("rate_rps", "p50_ms", "p95_ms", "p99_ms", "cpu_percent", "cpu_us_per_request")
    below = tuple(
        statistics.median(f.below[i] for f in figures) for i in range(len(figures[0].below))
    )
    rate, p50, p95, p99, cpu, cpu_us = (med(name) for name in fields)
    return Figures(figures[0].tool, rate, p50, p95, p99, cpu, cpu_us, below)


def _table(rows: list[Figures]) -> str:
    head = f"{'tool':<10} {'rate req/s':>10} {'P50 ms':>8} {'P95 ms':>8} {'P99 ms':>8} "
    head += f"{'CPU %core':>9} {'CPU µs/req':>10}"
    lines = [head, "-" * len(head)]
    for f in rows:
        lines.append(
            f"{f.tool:<10} {f.rate_rps:>10.1f} {f.p50_ms:>8.3f} {f.p95_ms:>8.3f} {f.p99_ms:>8.3f} "
            f"{f.cpu_percent:>9.1f} {f.cpu_us_per_request:>10.1f}"
        )
    return "\n".join(lines)


def _edges_table(rows: list[Figures]) -> str:
    head = f"{'tool':<10} " + " ".join(f"{'< ' + format(e, 'g') + ' ms':>10}" for e in EDGES_MS)
    lines = [head, "-" * len(head)]
    for f in rows:
        lines.append(f"{f.tool:<10} " + " ".join(f"{100 * b:>9.1f}%" for b in f.below))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (medians shown)")
    parser.add_argument("--freeze-duration", type=float, default=30.0)
    parser.add_argument(
        "--capacity-rate", type=float, default=10000.0,
        help="req/s for the runs of one edgeperf process near a core's capacity (0: none)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if shutil.which("hey") is None:
        print("bench: hey is not installed (Debian/Ubuntu: apt-get install hey)", file=sys.stderr)
        return 2
    placement = decide("auto", embedded=True, generator_processes=1)
    target_cpus, client_cpus = placement.stack, placement.generator
    print(f"machine: {os.cpu_count()} cores; {args.rate:g} req/s for {args.duration:g} s, "
          f"{args.repeat} runs each, interleaved; medians", flush=True)  # fmt: skip
    if client_cpus:
        print(f"placement: target on CPU {format_cpu_list(target_cpus)}, hey and edgeperf "
              f"(one at a time) on CPU {format_cpu_list(client_cpus)}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="edgeperf-bench-") as tmp:
        work = Path(tmp)
        with pinned(target_cpus):
            target = Target(work)
        results: dict[str, list[Figures]] = {"hey": [], "edgeperf": [], "greenlet": []}
        try:
            for i in range(args.repeat):
                with pinned(client_cpus):
                    results["hey"].append(run_hey(target.url, args.rate, args.duration))
                    results["edgeperf"].append(
                        run_harness(target.url, args.rate, args.duration, work, cap=1000)
                    )
                    results["greenlet"].append(
                        run_harness(target.url, args.rate, args.duration, work, 1000, "greenlet")
                    )
                print(f"  run {i + 1}/{args.repeat} done", flush=True)
            capacity = []  # how far one generator process goes on its one core
            if args.capacity_rate > 0:
                with pinned(client_cpus):
                    for _ in range(args.repeat):
                        capacity.append(
                            run_harness(target.url, args.capacity_rate, args.duration, work, 1000)
                        )
        finally:
            target.stop()
        print("\nFast loopback target (GET /health answered at once):")
        medians = [_median(results[tool]) for tool in ("hey", "edgeperf", "greenlet")]
        print(_table(medians))
        print("\nShare of responses faster than hey's bin edges (exact for both tools):")
        print(_edges_table(medians))
        if capacity:
            print(f"\nOne edgeperf process at {args.capacity_rate:g} req/s on its one core "
                  "(its CPU a request falls as wake-ups serve several requests each):")  # fmt: skip
            print(_table([_median(capacity)]))

        freeze = (args.freeze_duration / 2, 1.0)
        print(f"\nThe same target freezing for 1 s at {freeze[0]:g} s of a "
              f"{args.freeze_duration:g} s run (true P99 is several hundred ms):")  # fmt: skip
        frozen = []
        for tool in ("hey", "edgeperf"):
            with pinned(target_cpus):
                target = Target(work, freeze)
            try:
                with pinned(client_cpus):
                    if tool == "hey":
                        frozen.append(run_hey(target.url, args.rate, args.freeze_duration))
                    else:
                        frozen.append(
                            run_harness(target.url, args.rate, args.freeze_duration, work, cap=10)
                        )
            finally:
                target.stop()
        print(_table(frozen))
        print("\nhey's CSV keeps 0.1 ms: each of its figures is only known to ±0.05 ms.")
        print("edgeperf measures from the intended send time (coordinated omission corrected);")
        print("hey measures from when each of its 10 workers got round to sending.")
        print("In the freeze run edgeperf's cap is 10 connections, like hey's 10 workers.")
        print(f"ep-greenlet: edgeperf sending each request from a greenlet ({CLIENT_ENV}=greenlet)")
        print("instead of in the event loop's callbacks, the default.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
