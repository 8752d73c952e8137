"""`make capacity-bench`: does `edgeperf capacity` find the stand-in's known capacity?

A benchmark, not a test: it runs ``edgeperf capacity scenarios/capacity.yaml`` (a stand-in queue
of ``stand_in.capacity_rps`` = 400 req/s) ``--repeat`` times, one after the other, and prints
for each search its wall time, the capacity found with its interval, the probes it took and
whether it is within ``--tolerance`` (10 %) of the known capacity in at most ``--max-minutes``
(10). Exits 0 when every search is, else 1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from analysis.capacity.document import CapacityDoc

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "capacity.yaml"


@dataclass(frozen=True)
class Outcome:
    wall_s: float
    exit_code: int
    doc: CapacityDoc | None

    def within(self, known_rps: float, tolerance: float, max_s: float) -> bool:
        """A capacity found within ``tolerance`` of ``known_rps``, in at most ``max_s``."""
        if self.doc is None or self.doc.status != "FOUND":
            return False
        close = abs(self.doc.capacity_rps - known_rps) <= tolerance * known_rps
        return close and self.wall_s <= max_s


def _search(out: Path) -> Outcome:
    began = time.monotonic()
    cmd = [sys.executable, "-m", "loadtests.cli", "capacity", str(SCENARIO), "--out", str(out)]
    code = subprocess.run(cmd, cwd=REPO, check=False).returncode
    wall_s = time.monotonic() - began
    folders = sorted(out.glob("*-capacity"))
    return Outcome(wall_s, code, CapacityDoc.read(folders[-1]) if folders else None)


def _line(i: int, outcome: Outcome, ok: bool) -> str:
    doc = outcome.doc
    if doc is None:
        return f"search {i}: exit {outcome.exit_code}, no capacity.json ({outcome.wall_s:.0f} s)"
    high = f"{doc.high_rps:g}" if doc.high_rps is not None else "—"
    trials = sum(len(p.trials) for p in doc.probes)
    return (
        f"search {i}: {doc.status} capacity {doc.capacity_rps:g} req/s "
        f"[{doc.low_rps:g}, {high}), {len(doc.probes)} rates / {trials} probe runs, "
        f"{outcome.wall_s:.0f} s wall, exit {outcome.exit_code}: {'OK' if ok else 'MISSED'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="capacitybench", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--max-minutes", type=float, default=10.0)
    parser.add_argument("--out", type=Path, help="keep the capacity folders here")
    args = parser.parse_args(argv)
    known = float(yaml.safe_load(SCENARIO.read_text())["stand_in"]["capacity_rps"])
    with tempfile.TemporaryDirectory(prefix="capacitybench-") as tmp:
        out = args.out or Path(tmp)
        lines, hits = [], 0
        for i in range(1, args.repeat + 1):
            run_out = out / f"search-{i}"
            outcome = _search(run_out)
            ok = outcome.within(known, args.tolerance, args.max_minutes * 60)
            hits += ok
            lines.append(_line(i, outcome, ok))
            print(lines[-1], flush=True)
    print(f"known capacity {known:g} req/s; within {args.tolerance:.0%} in ≤ "
          f"{args.max_minutes:g} min: {hits} of {args.repeat}")  # fmt: skip
    return 0 if hits == args.repeat else 1


if __name__ == "__main__":
    sys.exit(main())
