"""Benchmark of analysis: ``python -m analysis.bench --rows 1000000``.

Writes a synthetic run directory to a temporary folder, then analyses it in a fresh child process
(so the generator's memory does not count) and reports the time of ``analyze_run`` and
``write_outputs`` and the child's peak RSS. Exits 1 when a goal is missed.
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

GOAL_S = 15.0
GOAL_RSS_MB = 1024.0


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
    ok = result["total_s"] <= GOAL_S and result["peak_rss_mb"] <= GOAL_RSS_MB
    print(f"rows                  {args.rows:,}")
    print(f"synthetic run written {generated_s:.2f} s")
    print(f"analyze_run           {result['analyze_s']:.2f} s")
    print(f"write_outputs         {result['write_s']:.2f} s")
    print(f"analyse + write       {result['total_s']:.2f} s   (goal <= {GOAL_S:g} s)")
    print(f"child process wall    {wall_s:.2f} s   (with interpreter start and imports)")
    print(f"peak RSS (child)      {result['peak_rss_mb']:.0f} MB   (goal <= {GOAL_RSS_MB:g} MB)")
    print(f"verdict status        {result['status']}")
    print("goals met" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
