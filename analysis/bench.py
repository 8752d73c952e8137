"""Benchmark of analysis: ``python -m analysis.bench --rows 1000000``.

Writes a synthetic run directory to a temporary folder, then analyses it in a fresh child process
(so the generator's memory does not count) and reports the time of ``analyze_run`` and
``write_outputs`` and the child's peak RSS. Exits 1 when a goal is missed: 30 s per 10.8 M
requests (3 h at 1000 req/s), and 1 GB of memory up to 10.8 M requests, 1.5 GB beyond (up to
``MAX_ROWS``, a day at 1000 req/s and more).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from analysis.reading.synthetic import SyntheticRun, write_synthetic_run

GOAL_ROWS_PER_S = 10_800_000 / 30.0
GOAL_RSS_MB = 1024.0
GOAL_LONG_RSS_MB = 1536.0  # beyond 10.8 M requests
MAX_ROWS = 100_000_000


def goals(rows: int) -> tuple[float, float]:
    """(seconds, MB) that analysing and writing a run of ``rows`` requests may take."""
    return max(rows / GOAL_ROWS_PER_S, 5.0), GOAL_RSS_MB if rows <= 10_800_000 else GOAL_LONG_RSS_MB


def _peak_rss_mb(who: int) -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS)
    kb = resource.getrusage(who).ru_maxrss
    return kb / 1024.0 / (1024.0 if sys.platform == "darwin" else 1.0)


def analyse_in_this_process(run_dir: Path) -> dict[str, Any]:
    """Time analyze_run and write_outputs on ``run_dir``; peak RSS of this process."""
    from analysis.api import analyze_run, write_outputs

    started = time.perf_counter()
    analysis = analyze_run(run_dir)
    analysed = time.perf_counter()
    write_outputs(run_dir, analysis)
    written = time.perf_counter()
    return {
        "analyze_s": analysed - started,
        "write_s": written - analysed,
        "total_s": written - started,
        "peak_rss_mb": _peak_rss_mb(resource.RUSAGE_SELF),
        "status": analysis.status,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.bench", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="requests in the run")
    parser.add_argument("--keep", type=Path, help="write the run directory here and keep it")
    parser.add_argument("--analyse-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.rows <= MAX_ROWS:
        parser.error(f"--rows: expected 1 to {MAX_ROWS:,}, got {args.rows:,}")
    if args.analyse_only:
        print(json.dumps(analyse_in_this_process(args.analyse_only)))
        return 0
    with tempfile.TemporaryDirectory(prefix="analysis-bench-") as tmp:
        run_dir = args.keep or Path(tmp) / "run"
        started = time.perf_counter()
        write_synthetic_run(run_dir, SyntheticRun(rows=args.rows))
        generated_s = time.perf_counter() - started
        child = subprocess.run(
            [sys.executable, "-m", "analysis.bench", "--analyse-only", str(run_dir)],
            capture_output=True,
            text=True,
            check=False,
        )
        wall_s = time.perf_counter() - started - generated_s
    if child.returncode != 0:
        print(child.stderr, file=sys.stderr)
        return 2
    result = json.loads(child.stdout.strip().splitlines()[-1])
    goal_s, goal_mb = goals(args.rows)
    ok = result["total_s"] <= goal_s and result["peak_rss_mb"] <= goal_mb
    print(f"rows                  {args.rows:,}")
    print(f"synthetic run written {generated_s:.2f} s")
    print(f"analyze_run           {result['analyze_s']:.2f} s")
    print(f"write_outputs         {result['write_s']:.2f} s")
    print(f"analyse + write       {result['total_s']:.2f} s   (goal <= {goal_s:.3g} s)")
    print(f"child process wall    {wall_s:.2f} s   (with interpreter start and imports)")
    print(f"peak RSS (child)      {result['peak_rss_mb']:.0f} MB   (goal <= {goal_mb:g} MB)")
    print(f"verdict status        {result['status']}")
    print("goals met" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
