"""`edgeperf overhead` and `edgeperf gateway`: interleaved runs of two arms, deltas on budgets.

Each pair runs A and B back to back in an order drawn at random per pair (a drift in the shared
machine then lands on both variants alike), with the same load and a settle pause between
runs; every run is an ordinary run directory inside one experiment folder, so any run can be
re-analysed alone and `edgeperf analyze EXPERIMENT_DIR` re-judges the whole experiment. The
spec's ``kind`` and ``labels`` name the experiment and its arms (``gateway``: direct and gateway,
see loadtests/config/gateway.py); the plan and the analysis keep the keys baseline/treatment.

With ``overhead.calibrate`` (``--calibrate``) it is an A/A calibration: the baseline variant runs
on both sides (still labelled baseline and treatment, so the analysis is shared) and the plan
records ``"calibration": true``; each budget is then judged on the minimum detectable effect.
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.contract.atomic import write_text_atomic
from analysis.overhead.experiment import (
    PLAN_FILE,
    REPORT_FILE,
    analyze_experiment,
    write_experiment,
)
from loadtests.config.scenario import Scenario
from loadtests.config.variants import (
    OverheadSpec,
    Variant,
    ab_variants,
    deep_merge,
    needs_server_side,
    reconfigure,
)
from loadtests.errors import EXIT_INTERRUPTED
from loadtests.experiments.run import RunOptions, run_scenario
from loadtests.recording.metadata import create_experiment

VARIANTS = ("baseline", "treatment")


@dataclass(frozen=True)
class Step:
    pair: int
    variant: str
    order: int  # 0: ran first in its pair


def schedule(pairs: int, seed: int) -> list[Step]:
    """Pairs in sequence; within each pair the order of A and B is drawn at random."""
    rng = random.Random(seed)
    steps = []
    for pair in range(pairs):
        first = rng.random() < 0.5
        order = VARIANTS if first else VARIANTS[::-1]
        steps += [Step(pair, variant, i) for i, variant in enumerate(order)]
    return steps


def variant_scenario(
    scenario: Scenario, variant: Variant, label: str, pair_seed: int | None = None
) -> Scenario:
    """The scenario with the variant's settings merged in, named after the variant.

    ``pair_seed`` (the spec's ``seed_per_pair``) replaces ``load.seed`` for this pair's runs.
    """
    data = deep_merge(scenario.model_dump(mode="json"), variant.set)
    if pair_seed is not None:
        data["load"]["seed"] = pair_seed
    data["name"] = f"{scenario.name}-{label}"
    data["overhead"] = data["gateway"] = None
    return Scenario.model_validate(data)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def execute_overhead(scenario: Scenario, out_root: Path, spec: OverheadSpec) -> int:
    """Run the interleaved experiment and judge it; the exit code follows the run contract.

    In an A/A calibration (``spec.calibrate``) the treatment side runs the baseline variant.
    """
    variants = ab_variants(spec)
    steps = schedule(spec.pairs, spec.seed)
    suffix = f"{spec.kind}{'-aa' if spec.calibrate else ''}"
    experiment = create_experiment(out_root, f"{scenario.name}-{suffix}", "experiment")
    label = dict(zip(VARIANTS, spec.labels, strict=True))
    plan: dict[str, Any] = {
        "scenario": scenario.name,
        "calibration": spec.calibrate,
        "spec": spec.model_dump(mode="json"),
        "runs": [],
        "interrupted": False,
    }
    mode = "A/A calibration, baseline on both sides: " if spec.calibrate else ""
    started = time.monotonic()
    health = f"{scenario.target.host}/health" if scenario.target.host else None
    for k, step in enumerate(steps):
        done = time.monotonic() - started
        left = done / k * (len(steps) - k) if k else None
        eta = f", about {left:.0f} s left" if left is not None else ""
        _say(
            f"edgeperf {spec.kind}: {mode}run {k + 1} of {len(steps)}: pair {step.pair + 1} "
            f"{label[step.variant]} (elapsed {done:.0f} s{eta})"
        )
        variant = variants[step.variant]
        reconfigure(variant, health)
        options = RunOptions(
            scenario=variant_scenario(
                scenario,
                variant,
                label[step.variant],
                scenario.load.seed + step.pair if spec.seed_per_pair else None,
            ),
            out_root=experiment,
            quiet=True,
            quiet_summary=True,
            with_prometheus=needs_server_side(spec),
        )
        outcome = run_scenario(options)
        plan["runs"].append(
            {"pair": step.pair, "variant": step.variant, "order": step.order,
             "run_dir": outcome.run_dir.name, "exit_code": outcome.exit_code}
        )  # fmt: skip
        write_text_atomic(experiment / PLAN_FILE, json.dumps(plan, indent=2))
        if outcome.exit_code == EXIT_INTERRUPTED:
            plan["interrupted"] = True
            write_text_atomic(experiment / PLAN_FILE, json.dumps(plan, indent=2))
            _say(f"edgeperf {spec.kind}: interrupted; judging the pairs completed so far")
            break
        if k + 1 < len(steps):
            time.sleep(spec.settle_s)
    result = analyze_experiment(experiment)
    write_experiment(experiment, result)
    print(result.table)
    print(f"report: {experiment / REPORT_FILE}")
    return EXIT_INTERRUPTED if plan["interrupted"] else result.exit_code


__all__ = ["Step", "execute_overhead", "schedule", "variant_scenario"]
