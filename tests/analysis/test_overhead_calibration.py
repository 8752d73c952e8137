"""Calibration of the overhead experiment: the minimum detectable effect and the A/A mode.

The MDE on synthetic deltas against hand-computed values, its 1/√n shrinkage, pairs_for_mde's
round trip, and A/A judging on fake experiment folders (a plan and per-run summary.json files).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from analysis.overhead.experiment import (
    MDE_MEANING,
    PLAN_FILE,
    REPORT_FILE,
    RESULT_FILE,
    analyze_experiment,
    format_budget_table,
    write_experiment,
)
from analysis.overhead.stats import (
    EXCEEDS,
    INCONCLUSIVE,
    NO_DATA,
    RESOLVES,
    TOO_NOISY,
    WITHIN,
    calibration_status,
    judge_budget,
    judge_calibration,
    mde_for,
    minimum_detectable_effect,
    paired_delta,
    pairs_for_mde,
)

# Student t quantiles from a printed table: (t_0.975 + t_0.80) for 1, 4 and 9 degrees of freedom.
T_SUM = {1: 12.7062 + 1.3764, 4: 2.7764 + 0.9410, 9: 2.2622 + 0.8834}


# --- the MDE formula --------------------------------------------------------------------------


def test_mde_matches_hand_computed_values():
    # Two pairs, deltas 0 and 2: sd = √2, sd/√n = 1, so the MDE is just t_0.975,1 + t_0.8,1.
    assert minimum_detectable_effect([0.0, 2.0]) == pytest.approx(T_SUM[1], abs=1e-3)
    # Five pairs 1..5: sd = √2.5, MDE = 3.7174 · √2.5 / √5 = 3.7174 / √2 ≈ 2.6286.
    assert minimum_detectable_effect([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(
        T_SUM[4] / math.sqrt(2), rel=1e-4
    )
    # Ten pairs alternating ±1 (sd = √(10/9)): MDE = 3.1456 · √(10/9) / √10 = 3.1456 / 3.
    deltas = [1.0, -1.0] * 5
    assert minimum_detectable_effect(deltas) == pytest.approx(T_SUM[9] / 3, rel=1e-4)
    # A shift does not change it; only the spread does, linearly.
    assert minimum_detectable_effect([d + 7 for d in deltas]) == pytest.approx(
        minimum_detectable_effect(deltas)
    )
    assert minimum_detectable_effect([3 * d for d in deltas]) == pytest.approx(
        3 * minimum_detectable_effect(deltas)
    )


def test_mde_needs_two_pairs_and_drops_nan():
    assert math.isnan(minimum_detectable_effect([1.0]))
    assert math.isnan(minimum_detectable_effect([]))
    assert math.isnan(mde_for(1.0, 1))
    assert minimum_detectable_effect([0.0, math.nan, 2.0]) == pytest.approx(T_SUM[1], abs=1e-3)
    assert minimum_detectable_effect([4.0, 4.0, 4.0]) == 0.0  # no spread: any cost shows


def test_mde_shrinks_about_one_over_root_n():
    sd = 2.0
    mdes = [mde_for(sd, n) for n in (3, 5, 10, 20, 50, 100, 400)]
    assert all(a > b for a, b in zip(mdes, mdes[1:], strict=False))
    # Quadrupling the pairs halves it once the t quantiles have settled near z (≈ 2.80 · sd/√n).
    assert mde_for(sd, 400) / mde_for(sd, 100) == pytest.approx(0.5, abs=0.005)
    assert mde_for(sd, 400) * math.sqrt(400) / sd == pytest.approx(1.96 + 0.8416, abs=0.02)
    # At few pairs it falls faster than 1/√n, the t quantiles shrinking too.
    assert mde_for(sd, 12) / mde_for(sd, 3) < 0.5
    # The same on synthetic deltas drawn with sd 2: MDE·√n/sd stays near the constant.
    rng = np.random.default_rng(11)
    for n in (50, 200, 800):
        scaled = minimum_detectable_effect(rng.normal(1.0, sd, size=n)) * math.sqrt(n) / sd
        assert scaled == pytest.approx(2.8, rel=0.15), (n, scaled)


@pytest.mark.parametrize(
    ("sd", "target"), [(1.0, 0.5), (2.0, 5.0), (3.0, 0.3), (0.5, 10.0), (10.0, 1.0)]
)
def test_pairs_for_mde_round_trip(sd, target):
    n = pairs_for_mde(sd, target)
    assert n is not None and n >= 2
    assert mde_for(sd, n) <= target
    if n > 2:
        assert mde_for(sd, n - 1) > target  # the fewest such pairs
    # A quarter of the MDE takes 16 times the pairs under the normal approximation; a bit
    # fewer, as the t quantiles also shrink.
    if n > 30:
        assert 14 * n <= pairs_for_mde(sd, target / 4) <= 16 * n


def test_pairs_for_mde_edges():
    assert pairs_for_mde(0.0, 1.0) == 2
    assert pairs_for_mde(1.0, 0.0) is None
    assert pairs_for_mde(math.nan, 1.0) is None
    assert pairs_for_mde(1e9, 1e-9) is None  # beyond any practical experiment
    assert pairs_for_mde(1.0, T_SUM[1] / math.sqrt(2) + 1e-6) == 2


# --- verdicts carry the MDE -------------------------------------------------------------------


def _delta(deltas: list[float], metric: str = "latency_p95_ms"):
    return paired_delta(metric, np.zeros(len(deltas)), np.array(deltas))


def test_every_verdict_carries_its_mde_and_the_logic_is_unchanged():
    within = judge_budget("p95", 5.0, _delta([3.0, 3.2, 2.8, 3.1, 2.9]))
    exceeds = judge_budget("p95", 5.0, _delta([8.1, 7.9, 8.0, 8.2, 7.8]))
    unsure = judge_budget("p95", 5.0, _delta([1.0, 9.0, 3.0, 7.0, 5.5]))
    assert (within.status, exceeds.status, unsure.status) == (WITHIN, EXCEEDS, INCONCLUSIVE)
    for v in (within, exceeds, unsure):
        assert v.delta is not None
        assert v.mde == pytest.approx(minimum_detectable_effect(v.delta.deltas))
    assert within.pairs_to_resolve is None and "MDE" not in within.reason
    assert unsure.more_pairs is not None and "more pairs would likely settle it" in unsure.reason
    no_data = judge_budget("p95", 5.0, None)
    assert no_data.status == NO_DATA and math.isnan(no_data.mde)


def test_an_mde_above_the_budget_says_the_experiment_is_too_small():
    delta = _delta([1.0, 9.0, 3.0, 7.0, 5.5])
    verdict = judge_budget("p95", 5.0, delta)
    assert verdict.mde > 5.0
    assert verdict.pairs_to_resolve == pairs_for_mde(delta.sd, 2.5)  # half the budget
    assert "too few to resolve this budget" in verdict.reason
    assert f"about {verdict.pairs_to_resolve} pairs in all" in verdict.reason


# --- A/A judging ------------------------------------------------------------------------------


def test_calibration_verdicts():
    quiet = judge_calibration("p95", 5.0, _delta([0.3, -0.2, 0.1, -0.4, 0.2]))
    assert quiet.status == RESOLVES and quiet.mde <= 5.0 and quiet.pairs_to_resolve is None
    assert "drift" not in quiet.reason
    noisy_delta = _delta([6.0, -7.0, 4.0, -5.0, 2.0])
    noisy = judge_calibration("p95", 5.0, noisy_delta)
    assert noisy.status == TOO_NOISY and noisy.mde > 5.0
    assert noisy.pairs_to_resolve == pairs_for_mde(noisy_delta.sd, 2.5)
    assert f"about {noisy.pairs_to_resolve} pairs" in noisy.reason
    # Both sides ran the same thing, yet B is always higher: flagged, not hidden.
    drift = judge_calibration("p95", 5.0, _delta([1.0, 1.1, 0.9, 1.05, 0.95]))
    assert drift.status == RESOLVES and "excludes 0" in drift.reason and "drift" in drift.reason
    assert judge_calibration("p95", 5.0, None).status == NO_DATA
    assert calibration_status([quiet, drift]) == "PASS"
    assert calibration_status([quiet, noisy]) == "INCOMPLETE"
    assert calibration_status([quiet, judge_calibration("x", 1, None)]) == "INCOMPLETE"
    assert calibration_status([]) == "INCOMPLETE"


# --- experiment folders -----------------------------------------------------------------------


def _summary(p95: float, cpu: float, otlp_bytes_per_s: float | None) -> dict:
    others = {} if otlp_bytes_per_s is None else {"otlp_bytes_per_s": {"value": otlp_bytes_per_s}}
    return {
        "measurements": {
            "latency_ms": {"p50": p95 / 2, "p95": p95, "p99": p95 * 1.5},
            "server": {"memory_max_bytes": 3e8, "cpu_mean_percent": cpu, "others": others},
        }
    }


def _folder(
    tmp_path: Path,
    deltas: list[float],
    *,
    calibration: bool,
    budgets: dict[str, float] | None = None,
    treatment_otlp: float | None = None,
    in_spec_only: bool = False,
) -> Path:
    """A fake experiment: pair k's treatment p95 and CPU are the baseline's plus deltas[k]."""
    folder = tmp_path / "experiment"
    folder.mkdir()
    rng = np.random.default_rng(5)
    runs = []
    for pair, delta in enumerate(deltas):
        base = 20.0 + rng.normal(0, 3)  # a drift shared by both runs of the pair
        for order, variant in enumerate(("baseline", "treatment") if pair % 2 else
                                        ("treatment", "baseline")):  # fmt: skip
            run_dir = f"run-{pair}-{variant}"
            (folder / run_dir).mkdir()
            shift = delta if variant == "treatment" else 0.0
            otlp = treatment_otlp if variant == "treatment" else None
            summary = _summary(base + shift, 30.0 + shift, otlp)
            (folder / run_dir / "summary.json").write_text(json.dumps(summary))
            runs.append({"pair": pair, "variant": variant, "order": order, "run_dir": run_dir,
                         "exit_code": 0})  # fmt: skip
    spec = {"pairs": len(deltas), "budgets": budgets or {"latency_p95_ms": 5.0}}
    plan = {"scenario": "fake", "spec": spec, "runs": runs, "interrupted": False}
    if in_spec_only:
        spec["calibrate"] = calibration
    else:
        plan["calibration"] = calibration
        spec["calibrate"] = calibration
    (folder / PLAN_FILE).write_text(json.dumps(plan))
    return folder


def test_a_quiet_machine_resolves_every_budget(tmp_path):
    folder = _folder(
        tmp_path,
        [0.3, -0.2, 0.1, -0.4, 0.2],
        calibration=True,
        budgets={"latency_p95_ms": 5.0, "cpu_percent": 10.0, "network_mbps": 10.0},
    )
    result = analyze_experiment(folder)
    assert [v.status for v in result.verdicts] == [RESOLVES] * 3  # network: 0 on both sides
    assert result.status == "PASS" and result.exit_code == 0
    assert result.summary["calibration"] is True
    assert "A/A calibration" in result.table and "fake A/A calibration: PASS" in result.table
    assert "A/A delta" in result.table and "MDE" in result.table and MDE_MEANING in result.table
    written = write_experiment(folder, result)
    assert folder / RESULT_FILE in written
    saved = json.loads((folder / RESULT_FILE).read_text())
    assert saved["calibration"] is True and saved["status"] == "PASS"
    p95 = saved["budgets"][0]
    assert p95["status"] == RESOLVES
    assert p95["mde"] == pytest.approx(minimum_detectable_effect(p95["delta"]["per_pair"]))
    assert p95["mde_above_budget"] is False and p95["aa_excludes_zero"] is False
    html = (folder / REPORT_FILE).read_text()
    assert "A/A calibration: fake" in html and "RESOLVES" in html
    assert "the smallest telemetry cost this experiment could tell" in html


def test_a_noisy_machine_cannot_judge_a_tight_budget(tmp_path):
    folder = _folder(
        tmp_path,
        [6.0, -7.0, 4.0, -5.0, 2.0],
        calibration=True,
        budgets={"latency_p95_ms": 5.0, "cpu_percent": 100.0},
    )
    result = analyze_experiment(folder)
    p95, cpu = result.verdicts
    assert p95.status == TOO_NOISY and cpu.status == RESOLVES
    assert result.status == "INCOMPLETE" and result.exit_code == 2
    assert "TOO NOISY" in result.table and f"about {p95.pairs_to_resolve} pairs" in result.table
    write_experiment(folder, result)
    saved = json.loads((folder / RESULT_FILE).read_text())
    assert saved["budgets"][0]["pairs_to_resolve"] == p95.pairs_to_resolve
    assert saved["budgets"][0]["mde_above_budget"] is True
    assert "TOO NOISY" in (folder / REPORT_FILE).read_text()


def test_an_aa_shift_is_flagged_and_missing_data_cannot_judge(tmp_path):
    result = analyze_experiment(
        _folder(tmp_path, [1.0, 1.1, 0.9, 1.05, 0.95], calibration=True, in_spec_only=True)
    )
    (p95,) = result.verdicts
    assert result.summary["calibration"] is True  # from the spec when the plan has no flag
    assert p95.status == RESOLVES and result.exit_code == 0
    assert "drift" in p95.reason and "drift" in result.table
    assert result.summary["budgets"][0]["aa_excludes_zero"] is True
    (tmp_path / "one").mkdir()
    lone = analyze_experiment(_folder(tmp_path / "one", [0.1], calibration=True))
    assert lone.verdicts[0].status == NO_DATA and lone.exit_code == 2


def test_an_ordinary_experiment_shows_the_mde_too(tmp_path):
    folder = _folder(
        tmp_path,
        [3.0, 3.2, 2.8, 3.1, 2.9],
        calibration=False,
        budgets={"latency_p95_ms": 5.0, "network_mbps": 10.0},
        treatment_otlp=None,  # telemetry on but no export seen: NO DATA, as before
    )
    result = analyze_experiment(folder)
    p95, network = result.verdicts
    assert p95.status == WITHIN and network.status == NO_DATA
    assert result.summary["calibration"] is False and result.exit_code == 2
    assert "A/A" not in result.table and "fake overhead: INCOMPLETE" in result.table
    header, p95_row = result.table.splitlines()[:2]
    assert "MDE" in header and p95_row.split()[-2] == "ms"  # the MDE column, in the unit
    write_experiment(folder, result)
    saved = json.loads((folder / RESULT_FILE).read_text())
    assert saved["budgets"][0]["mde"] == pytest.approx(p95.mde)
    assert saved["budgets"][1]["mde"] is None
    assert saved["budgets"][0]["aa_excludes_zero"] is None
    html = (folder / REPORT_FILE).read_text()
    assert '<th class="num">MDE</th>' in html and "80 % of the time" in html


def test_table_columns_line_up():
    verdicts = [
        judge_budget("latency_p95_ms", 5.0, _delta([3.0, 3.2, 2.8])),
        judge_budget("memory_bytes", 2e8, None),
    ]
    lines = format_budget_table(verdicts, "INCOMPLETE", "x").splitlines()
    assert "MDE" in lines[0] and len(lines) == 5  # header, two rows, the MDE line, the total
    assert lines[0].index("status") == lines[1].index("WITHIN") == lines[2].index("NO DATA")
