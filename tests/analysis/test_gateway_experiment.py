"""Gateway vs direct folders: deltas reported without budgets, judged with them, on made pairs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from analysis.overhead.experiment import (
    PLAN_FILE,
    REPORT_FILE,
    analyze_experiment,
    write_experiment,
)
from analysis.overhead.stats import EXCEEDS, MEASURED, NO_DATA, paired_delta, report_delta

REPORTED = ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "memory_bytes", "cpu_percent"]
COST_MS = 5.0


def _folder(tmp_path: Path, pairs: int, budgets: dict[str, float] | None = None) -> Path:
    """Pairs whose gateway runs are the direct runs + 5 ms (± 0.2 ms), memory never measured."""
    folder = tmp_path / "experiment"
    folder.mkdir()
    rng = np.random.default_rng(11)
    runs = []
    for pair in range(pairs):
        drift = rng.normal(0, 2)  # shared by both runs of the pair, as a busy machine's is
        for order, variant in enumerate(("treatment", "baseline") if pair % 2 else
                                        ("baseline", "treatment")):  # fmt: skip
            added = COST_MS + rng.normal(0, 0.2) if variant == "treatment" else 0.0
            p50 = 4.0 + drift + added
            summary = {"measurements": {
                "latency_ms": {"p50": p50, "p95": p50 + 4, "p99": p50 + 8},
                "server": {"cpu_mean_percent": 20.0 + (3.0 if variant == "treatment" else 0.0)},
            }}  # fmt: skip
            run_dir = f"run-{pair}-{variant}"
            (folder / run_dir).mkdir()
            (folder / run_dir / "summary.json").write_text(json.dumps(summary))
            runs.append({"pair": pair, "variant": variant, "order": order, "run_dir": run_dir,
                         "exit_code": 0})  # fmt: skip
    spec = {"pairs": pairs, "budgets": budgets or {}, "reported": REPORTED, "kind": "gateway",
            "labels": ["direct", "gateway"]}  # fmt: skip
    plan = {"scenario": "gw", "spec": spec, "runs": runs, "interrupted": False}
    (folder / PLAN_FILE).write_text(json.dumps(plan))
    return folder


def test_without_budgets_every_measured_metric_is_reported_with_an_interval_around_the_cost(
    tmp_path,
):
    result = analyze_experiment(_folder(tmp_path, pairs=6))
    rows = {v.metric: v for v in result.verdicts}
    # Memory is in no run (no profile for it): left out, not NO DATA.
    assert list(rows) == ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "cpu_percent"]
    for metric in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"):
        delta = rows[metric].delta
        assert rows[metric].status == MEASURED and math.isnan(rows[metric].budget)
        assert delta is not None and delta.low < COST_MS < delta.high
        assert abs(delta.mean - COST_MS) < 0.5  # the shared drift cancels in each pair
    assert rows["cpu_percent"].delta is not None and rows["cpu_percent"].delta.mean == 3.0
    assert (result.status, result.exit_code) == ("PASS", 0)
    assert result.summary["kind"] == "gateway"
    assert result.summary["labels"] == {"baseline": "direct", "treatment": "gateway"}
    assert result.summary["budgets"][0]["budget"] is None
    assert "delta: gateway − direct" in result.table
    assert "gw gateway vs direct: PASS" in result.table


def test_a_budget_on_what_the_gateway_adds_is_judged_and_the_rest_reported(tmp_path):
    result = analyze_experiment(_folder(tmp_path, pairs=6, budgets={"latency_p95_ms": 2.0}))
    rows = {v.metric: v for v in result.verdicts}
    assert rows["latency_p95_ms"].status == EXCEEDS and rows["latency_p95_ms"].budget == 2.0
    assert rows["latency_p50_ms"].status == MEASURED
    assert (result.status, result.exit_code) == ("FAIL", 1)


def test_the_report_names_the_arms_and_is_written_without_nan(tmp_path):
    folder = _folder(tmp_path, pairs=3)
    write_experiment(folder, analyze_experiment(folder))
    html = (folder / REPORT_FILE).read_text()
    assert "Gateway vs direct: gw" in html and "What the gateway adds" in html
    assert "<td>direct</td>" in html and "<td>gateway</td>" in html
    assert "NaN" not in (folder / "overhead.json").read_text()
    assert (folder / "overhead-deltas.png").is_file()


def test_a_reported_metric_says_whether_its_interval_leaves_out_zero():
    assert report_delta("latency_p50_ms", None).status == NO_DATA
    clear = report_delta("x", paired_delta("x", np.zeros(5), np.array([5.0, 5.1, 4.9, 5.0, 5.2])))
    assert "all above zero" in clear.reason
    noisy = report_delta("x", paired_delta("x", np.zeros(4), np.array([3.0, -2.0, 1.0, -1.5])))
    assert "contains zero" in noisy.reason and f"{noisy.mde:.4g}" in noisy.reason
