"""`edgeperf overhead --calibrate`: the flag, the scenario field, and what runs on each side."""

from __future__ import annotations

from pathlib import Path

from loadtests.cliargs import build_parser
from loadtests.config.scenario import load_scenario
from loadtests.config.variants import OverheadSpec, Variant, ab_variants

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "telemetry-overhead.yaml"


def test_calibrate_runs_the_baseline_on_both_sides():
    base = Variant(set={"stand_in": {"telemetry": False}})
    treat = Variant(set={"stand_in": {"telemetry": True}})
    spec = OverheadSpec(budgets={"latency_p95_ms": 5}, baseline=base, treatment=treat)
    assert spec.calibrate is False
    assert ab_variants(spec) == {"baseline": base, "treatment": treat}
    aa = spec.model_copy(update={"calibrate": True})
    assert ab_variants(aa) == {"baseline": base, "treatment": base}


def test_the_flag_sets_the_scenario_field():
    args = build_parser().parse_args(["overhead", str(SCENARIO), "--calibrate"])
    assert args.calibrate is True
    assert build_parser().parse_args(["overhead", str(SCENARIO)]).calibrate is False
    scenario = load_scenario(SCENARIO, {"overhead.calibrate": True})
    assert scenario.overhead is not None and scenario.overhead.calibrate is True
    default = load_scenario(SCENARIO)
    assert default.overhead is not None and default.overhead.calibrate is False
