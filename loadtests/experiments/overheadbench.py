"""`make overhead-bench`: can the default overhead experiment resolve the +5 ms P95 budget here?

A benchmark, not a test: it runs the default experiment (``scenarios/telemetry-overhead.yaml``)
as an A/A calibration and with a known telemetry cost injected into the stand-in (its
``telemetry_cost.latency_ms``, OpenTelemetry export off, so the treatment differs by exactly that
sleep), each ``--repeat`` times, interleaved, and prints for every experiment its wall time, the
P95 delta with its 95 % interval, the minimum detectable effect and the verdict on the 5 ms
budget. Expected: A/A MDE ≤ 1.5 ms, +2 ms WITHIN, +8 ms EXCEEDS, each in ≤ 10 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "telemetry-overhead.yaml"
METRIC = "latency_p95_ms"


@dataclass(frozen=True)
class Outcome:
    case: str
    wall_s: float
    exit_code: int
    status: str  # the latency budget's verdict
    mean: float | None
    low: float | None
    high: float | None
    mde: float | None


def _injected(work: Path, latency_ms: float) -> Path:
    """The default scenario judged on the latency budget alone, with a known cost injected."""
    data = yaml.safe_load(SCENARIO.read_text())
    data["name"] = f"overhead-bench-plus{latency_ms:g}ms"
    overhead = data["overhead"]
    overhead["budgets"] = {METRIC: overhead["budgets"][METRIC]}
    overhead["treatment"] = {
        "set": {
            "stand_in": {
                "telemetry": True,
                "telemetry_export": False,
                "telemetry_cost": {"latency_ms": latency_ms},
            }
        }
    }
    path = work / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _experiment(case: str, scenario: Path, extra: list[str], out: Path) -> Outcome:
    before = set(out.iterdir()) if out.exists() else set()
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "loadtests.cli", "overhead", str(scenario), "--out", str(out),
         *extra],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    wall_s = time.monotonic() - started
    folders = [p for p in set(out.iterdir()) - before if (p / "overhead.json").exists()]
    if not folders:
        tail = (proc.stderr or proc.stdout)[-600:]
        raise RuntimeError(f"{case}: no overhead.json (exit {proc.returncode}):\n{tail}")
    result = json.loads((folders[0] / "overhead.json").read_text())
    (budget,) = [b for b in result["budgets"] if b["metric"] == METRIC]
    delta = budget.get("delta") or {}
    return Outcome(
        case, wall_s, proc.returncode, budget["status"],
        delta.get("mean"), delta.get("low"), delta.get("high"), budget.get("mde"),
    )  # fmt: skip


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"


def _table(outcomes: list[Outcome]) -> str:
    head = (
        f"{'case':<14} {'wall':>7} {'exit':>4} {'P95 delta ms':>12} {'95 % interval':>18} "
        f"{'MDE ms':>7}  verdict"
    )
    lines = [head, "-" * len(head)]
    for o in outcomes:
        interval = f"[{_fmt(o.low)}, {_fmt(o.high)}]"
        mde = "—" if o.mde is None else f"{o.mde:.2f}"
        lines.append(
            f"{o.case:<14} {o.wall_s / 60:>5.1f}min {o.exit_code:>4} {_fmt(o.mean):>12} "
            f"{interval:>18} {mde:>7}  {o.status}"
        )
    return "\n".join(lines)


def _medians(outcomes: list[Outcome], case: str) -> str:
    rows = [o for o in outcomes if o.case == case]

    def med(name: str) -> str:
        values = [getattr(o, name) for o in rows if getattr(o, name) is not None]
        return "—" if not values else f"{statistics.median(values):.2f}"

    verdicts = ", ".join(o.status for o in rows)
    return (
        f"{case:<14} wall {float(med('wall_s')) / 60:.1f} min, delta {med('mean')} ms, "
        f"MDE {med('mde')} ms; verdicts: {verdicts}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="experiments per case")
    parser.add_argument(
        "--cases", default="aa,plus2,plus8", help="comma list of aa, plus2, plus8 (default all)"
    )
    parser.add_argument("--out", type=Path, help="keep the experiment folders here")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    print(
        f"machine: {os.cpu_count()} cores; the default experiment ({SCENARIO.name}), "
        f"{args.repeat} times per case, interleaved",
        flush=True,
    )
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="edgeperf-overhead-bench-") as tmp:
        work = Path(tmp)
        out = args.out or work / "reports"
        out.mkdir(parents=True, exist_ok=True)
        plans = {
            "aa": (SCENARIO, ["--calibrate"]),
            "plus2": (_injected(work, 2.0), []),
            "plus8": (_injected(work, 8.0), []),
        }
        for i in range(args.repeat):
            for case in cases:
                scenario, extra = plans[case]
                outcome = _experiment(case, scenario, extra, out)
                outcomes.append(outcome)
                print(f"  {i + 1}/{args.repeat} {_table([outcome]).splitlines()[-1]}", flush=True)
    print()
    print(_table(outcomes))
    print("\nmedians:")
    for case in cases:
        print("  " + _medians(outcomes, case))
    return 0


if __name__ == "__main__":
    sys.exit(main())
