"""End to end on small run directories: summary.json shape, HTML, charts, terminal table."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from analysis import analyze_run, format_verdict_table, write_outputs
from analysis.contract.schema import VERDICT_METRICS
from tests.analysis.helpers import (
    S_US,
    T0_US,
    TEST_TARGETS,
    metadata,
    samples,
    series,
    steady,
    write_run,
)

HOSTILE = "<script>alert(1)</script>"
T0_S = T0_US / S_US


def _series_rows():
    rows = [(T0_S + t, "memory_bytes", 150e6) for t in range(0, 11, 5)]
    rows += [(T0_S + t, "cpu_percent", 40.0) for t in range(0, 11, 5)]
    rows += [(T0_S + 10, "otlp_export_success", 100.0)]
    return series(rows)


def _strict_json(text: str):
    def reject(constant: str):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


def test_summary_shape_and_pass(tmp_path):
    run_dir = write_run(tmp_path, samples(steady(1000)), series_frame=_series_rows())
    analysis = analyze_run(run_dir)
    written = write_outputs(run_dir, analysis)
    assert analysis.status == "PASS" and analysis.exit_code == 0
    summary = _strict_json((run_dir / "summary.json").read_text())
    assert set(summary) >= {"scenario", "status", "measurements", "verdicts", "warnings"}
    m = summary["measurements"]
    assert set(m) >= {"rate_rps", "requests", "errors", "error_rate", "latency_ms"}
    assert set(m["latency_ms"]) == {"p50", "p90", "p95", "p99", "p999", "max"}
    assert m["rate_rps"] == 100.0 and m["requests"] == 1000 and m["error_rate"] == 0.0
    generator = m["generator"]  # the metadata's 1 CPU s over 10 s, for every request sent
    assert generator["cpu_percent_of_core"] == 10.0
    assert generator["cpu_us_per_request"] == 1e6 / m["requests_total"]
    assert generator["send_lag_ms"] == m["send_lag_ms"]
    judged = [metric for metric in VERDICT_METRICS if metric in TEST_TARGETS]
    assert [v["metric"] for v in summary["verdicts"]] == judged
    for verdict in summary["verdicts"]:
        assert set(verdict) >= {
            "metric",
            "target",
            "measured",
            "unit",
            "status",
            "margin",
            "source",
        }
    assert summary["verdicts"][4]["unit"] == "%"
    assert {p.name for p in written} >= {"summary.json", "index.html", "throughput.png"}
    assert not list(run_dir.rglob("*.tmp"))


def test_missing_series_is_incomplete_with_reasons(tmp_path):
    analysis = analyze_run(write_run(tmp_path, samples(steady(1000))))
    assert analysis.status == "INCOMPLETE" and analysis.exit_code == 2
    by_metric = {v["metric"]: v for v in analysis.summary["verdicts"]}
    for metric in ("memory_bytes", "cpu_percent", "otlp_export_success"):
        assert by_metric[metric]["status"] == "NO DATA"
        assert by_metric[metric]["measured"] is None
        assert "series.parquet" in by_metric[metric]["reason"]
    _strict_json(json.dumps(analysis.summary, allow_nan=False))


def test_fail_outweighs_no_data_and_error_rate_is_percent(tmp_path):
    errors = np.array(["timeout"] * 20 + [""] * 980, dtype=object)
    analysis = analyze_run(write_run(tmp_path, samples(steady(1000), error=errors)))
    verdict = next(v for v in analysis.summary["verdicts"] if v["metric"] == "error_rate")
    assert verdict["measured"] == 2.0 and verdict["status"] == "FAIL"
    assert analysis.summary["measurements"]["error_rate"] == 0.02
    assert analysis.status == "FAIL" and analysis.exit_code == 1


def test_interrupted_run(tmp_path):
    meta = metadata(outcome="interrupted")
    analysis = analyze_run(write_run(tmp_path, samples(steady(100)), meta=meta))
    assert analysis.status == "INTERRUPTED" and analysis.exit_code == 130
    assert any("interrupted" in w for w in analysis.summary["warnings"])


def test_no_samples_at_all(tmp_path):
    run_dir = write_run(tmp_path, None)
    analysis = analyze_run(run_dir)
    assert analysis.status == "INCOMPLETE"
    assert analysis.summary["measurements"]["latency_ms"]["p50"] is None
    paths = write_outputs(run_dir, analysis)
    assert (run_dir / "index.html") in paths


def test_html_puts_verdicts_first_and_escapes_run_strings(tmp_path):
    meta = metadata(notes=[f"note {HOSTILE}"], target=HOSTILE)
    models = np.array([HOSTILE, "gpt-4o-mini"] * 500, dtype=object)
    errors = np.array([""] * 999 + [HOSTILE], dtype=object)
    run_dir = write_run(tmp_path, samples(steady(1000), model=models, error=errors), meta=meta)
    write_outputs(run_dir, analyze_run(run_dir))
    html = (run_dir / "index.html").read_text()
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.index('class="verdicts"') < html.index("<img")
    assert html.index('class="verdicts"') < html.index('id="warnings"') < html.index('id="charts"')
    assert 'src="charts/throughput.png"' in html
    assert "prefers-color-scheme: dark" in html
    assert "http://" not in html and "https://" not in html


def test_format_verdict_table_shows_reasons(tmp_path):
    analysis = analyze_run(write_run(tmp_path, samples(steady(1000))))
    table = format_verdict_table(analysis.result)
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "target", "measured", "status"]
    memory = next(line for line in lines if line.startswith("memory_bytes"))
    assert "NO DATA" in memory and "series.parquet" in memory
    p50 = next(line for line in lines if line.startswith("latency_p50_ms"))
    assert "1.000 ms" in p50 and "PASS" in p50
    assert lines[-1] == "test-scenario: INCOMPLETE"


def test_analysis_imports_without_locust_gevent_or_loadtests():
    code = (
        "import sys, analysis, analysis.api, analysis.bench\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent', 'loadtests')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_the_contract_modules_stays_light():
    code = (
        "import sys, analysis.contract.schema, analysis.contract.targets\n"
        "heavy = [m for m in ('pandas', 'matplotlib', 'pyarrow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
