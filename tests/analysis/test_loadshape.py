"""Stage-based judgements through analyze_run: summary keys, verdicts, report sections, CI text."""

from __future__ import annotations

import json

import numpy as np
from matplotlib.figure import Figure

from analysis import analyze_run, write_outputs
from analysis.outputs.charts import chart_specs
from analysis.outputs.ci import render_junit
from tests.analysis.helpers import S_US, T0_US, metadata, samples, series, steady, write_run
from tests.analysis.shapes import constant_us, staged, staged_metadata

WEEK1_STAGE = {
    "latency_p50_ms": "< 10",
    "latency_p95_ms": "< 50",
    "latency_p99_ms": "< 200",
    "error_rate": "< 1",
}


def _verdicts(analysis):
    return {v["metric"]: v for v in analysis.summary["verdicts"]}


def test_stress_run_reports_stages_and_the_knee(tmp_path):
    steps = [(10, 100, constant_us(1_000)), (10, 200, constant_us(1_000)),
             (10, 300, constant_us(300_000))]  # fmt: skip
    frame, meta = staged(steps)
    run_dir = write_run(tmp_path, frame, meta=staged_metadata(meta), targets={"knee_rps": ">= 150"})
    (run_dir / "scenario.yaml").write_text(
        json.dumps(
            {"name": "stress", "targets": {"knee_rps": ">= 150"}, "stage_targets": WEEK1_STAGE}
        )  # fmt: skip
    )
    analysis = analyze_run(run_dir)
    m = analysis.summary["measurements"]
    assert [s["met"] for s in m["stages"]] == [True, True, False]
    assert m["stages"][2]["latency_ms"]["p99"] == 300.0 and m["stages"][0]["start_s"] == 0.0
    assert m["knee"]["knee_rps"] == 200.0 and m["knee"]["first_failing_stage"] == 3
    assert m["spike"] is None
    verdict = _verdicts(analysis)["knee_rps"]
    assert verdict["status"] == "PASS" and verdict["measured"] == 200.0
    assert "stage 3 (300 req/s)" in verdict["source"]
    write_outputs(run_dir, analysis)
    html = (run_dir / "index.html").read_text()
    assert "Stress: the knee" in html and "<h2>Stages</h2>" in html
    assert "missed: P50 300.000 ms (target &lt; 10)" in html


def test_spike_that_never_recovers_fails_with_its_reason(tmp_path):
    frame, meta = staged([(10, 100, constant_us(1_000)), (5, 300, constant_us(400_000)),
                          (10, 100, constant_us(400_000))])  # fmt: skip
    targets = {"spike_recovery_s": "< 10", **WEEK1_STAGE}
    analysis = analyze_run(write_run(tmp_path, frame, meta=staged_metadata(meta), targets=targets))
    verdict = _verdicts(analysis)["spike_recovery_s"]
    assert verdict["status"] == "FAIL" and verdict["measured"] is None
    assert "did not recover within the 10 s" in verdict["reason"]
    assert analysis.summary["measurements"]["spike"]["recovered"] is False
    assert "did not recover" in render_junit(analysis.result)
    assert analysis.status == "FAIL"


def test_spike_recovery_passes(tmp_path):
    frame, meta = staged([(10, 100, constant_us(1_000)), (5, 300, constant_us(400_000)),
                          (10, 100, lambda t: np.where(t < 2, 400_000, 1_000))])  # fmt: skip
    run_dir = write_run(tmp_path, frame, meta=staged_metadata(meta),
                        targets={"spike_recovery_s": "< 10"})  # fmt: skip
    analysis = analyze_run(run_dir)
    verdict = _verdicts(analysis)["spike_recovery_s"]
    assert verdict["status"] == "PASS" and verdict["measured"] == 2.0 and verdict["unit"] == "s"
    spike = analysis.summary["measurements"]["spike"]
    assert spike["stage"] == 2 and spike["spike_stage_met"] is None  # no stage targets
    write_outputs(run_dir, analysis)
    assert "Spike recovery" in (run_dir / "index.html").read_text()


def test_memory_growth_verdict_and_no_data_without_series(tmp_path):
    t0_s = T0_US / S_US
    rows = [(t0_s + t, "memory_bytes", 100e6 + 1e4 * t) for t in range(0, 11)]  # 10 kB/s
    targets = {"memory_growth_mb_per_h": "< 50"}
    run_dir = write_run(tmp_path / "a", samples(steady(1000)), series_frame=series(rows),
                        targets=targets)  # fmt: skip
    analysis = analyze_run(run_dir)
    verdict = _verdicts(analysis)["memory_growth_mb_per_h"]
    assert verdict["status"] == "PASS" and abs(verdict["measured"] - 36.0) < 1e-6
    assert verdict["unit"] == "MB/h" and "least-squares slope of the 11" in verdict["source"]
    assert verdict["source"].startswith("linear at 36.0 MB/h")
    write_outputs(run_dir, analysis)
    assert "Memory growth" in (run_dir / "index.html").read_text()
    bare = analyze_run(write_run(tmp_path / "b", samples(steady(1000)), targets=targets))
    verdict = _verdicts(bare)["memory_growth_mb_per_h"]
    assert verdict["status"] == "NO DATA" and "series.parquet" in verdict["reason"]
    assert bare.status == "INCOMPLETE"


def test_single_stage_runs_have_no_stage_table(tmp_path):
    analysis = analyze_run(write_run(tmp_path, samples(steady(1000)), meta=metadata()))
    m = analysis.summary["measurements"]
    assert m["stages"] == [] and m["knee"] is None and m["spike"] is None
    assert "spike_recovery_s" not in _verdicts(analysis)


def _memory_run(tmp_path, memory_bytes, targets):
    """A 10 s judged window with one memory point every 0.1 s (``memory_bytes(t_s)``)."""
    t0_s = T0_US / S_US
    t_s = np.arange(0.0, 10.0 + 1e-9, 0.1)
    rows = [
        (t0_s + t, "memory_bytes", float(v)) for t, v in zip(t_s, memory_bytes(t_s), strict=True)
    ]
    return write_run(tmp_path, samples(steady(1000)), meta=metadata(), series_frame=series(rows),
                     targets=targets)  # fmt: skip


def test_a_filling_cache_passes_as_a_plateau_and_the_chart_draws_the_fit(tmp_path):
    targets = {"memory_growth_mb_per_h": "< 50"}
    run_dir = _memory_run(tmp_path, lambda t: 50e6 + 1e7 * np.minimum(t, 3.0), targets)
    analysis = analyze_run(run_dir)
    growth = analysis.summary["measurements"]["memory_growth"]
    assert growth["shape"] == "plateau" and growth["description"].startswith("plateaued at 80.0")
    assert growth["fit_start_s"] == 3.0 and growth["fit_end_s"] == 10.0
    assert _verdicts(analysis)["memory_growth_mb_per_h"]["status"] == "PASS"
    fit = analysis.charts.memory_fit
    assert fit is not None and (fit.start_mb, fit.end_mb) == (80.0, 80.0)
    memory = next(spec for spec in chart_specs(analysis.charts) if spec.name == "memory")
    ax = Figure().add_subplot()
    memory.draw(ax)
    assert any(str(line.get_label()).startswith("fit: plateaued") for line in ax.get_lines())
    write_outputs(run_dir, analysis)
    assert "plateaued at 80.0 MB" in (run_dir / "index.html").read_text()


def test_memory_still_levelling_off_is_no_data_with_how_long_it_needs(tmp_path):
    targets = {"memory_growth_mb_per_h": "< 50"}
    run_dir = _memory_run(tmp_path, lambda t: 50e6 + 1e8 * (1 - np.exp(-t / 8.0)), targets)
    analysis = analyze_run(run_dir)
    verdict = _verdicts(analysis)["memory_growth_mb_per_h"]
    assert verdict["status"] == "NO DATA" and "judged window of about" in verdict["reason"]
    assert analysis.summary["measurements"]["memory_growth"]["shape"] == "growing"
    assert analysis.status == "INCOMPLETE"
