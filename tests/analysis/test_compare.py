"""`edgeperf compare` on run directories: verdicts, refusals, outputs and exit codes."""

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from analysis.compare.comparison import CompareRefused, compare_runs, parse_tolerances
from analysis.compare.judging import INCONCLUSIVE, NO_DATA, SAME, WORSE, ToleranceError
from analysis.compare.outputs import (
    JUNIT_FILE,
    REPORT_FILE,
    RESULT_FILE,
    SUMMARY_MD_FILE,
    write_comparison,
)
from analysis.reading.errors import RunDirError
from analysis.reading.synthetic import SyntheticRun, write_synthetic_run

FIXTURE_RUN = Path(__file__).parent.parent / "fixtures" / "run-small"
LATENCY = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    base = {"rows": 8000, "rate_rps": 500.0}
    specs = {
        "a": SyntheticRun(**base, seed=1),
        "a2": SyntheticRun(**base, seed=2),  # same settings, other draws
        "slow": SyntheticRun(**base, seed=3, service_median_ms=13.0),  # +10 ms at the median
        "other": SyntheticRun(**base, seed=4, name="health"),
        "faster": SyntheticRun(rows=8000, rate_rps=400.0, seed=5),
        "streams": SyntheticRun(**base, seed=6, stream_share=0.3),
    }
    return {key: write_synthetic_run(root / key, spec) for key, spec in specs.items()}


def _rows(comparison):
    return {row.metric: row for row in comparison.rows}


def test_two_runs_of_the_same_settings_are_the_same(runs):
    comparison = compare_runs(runs["a"], runs["a2"])
    rows = _rows(comparison)
    assert all(rows[m].verdict == SAME for m in LATENCY + ("error_rate", "request_rate_rps"))
    assert comparison.verdict != WORSE and comparison.exit_code == 0
    for row in rows.values():  # each interval holds its own delta
        if row.verdict != NO_DATA:
            assert row.low <= row.delta <= row.high


def test_a_slower_run_is_worse_and_exits_1(runs):
    comparison = compare_runs(runs["a"], runs["slow"])
    rows = _rows(comparison)
    assert [rows[m].verdict for m in LATENCY] == [WORSE] * 3
    assert 9.0 < rows["latency_p50_ms"].delta < 11.0
    assert rows["latency_p50_ms"].low > rows["latency_p50_ms"].tolerance
    assert comparison.verdict == WORSE and comparison.exit_code == 1
    # and the other way round it is better
    assert _rows(compare_runs(runs["slow"], runs["a"]))["latency_p50_ms"].verdict == "BETTER"


def test_a_wider_tolerance_turns_worse_into_same(runs):
    tolerances = parse_tolerances([f"{m}=500%" for m in LATENCY])
    rows = _rows(compare_runs(runs["a"], runs["slow"], tolerances))
    assert [rows[m].verdict for m in LATENCY] == [SAME] * 3
    assert rows["latency_p50_ms"].tolerance_text == "500%"


def test_a_quantile_with_too_few_values_beyond_it_is_not_judged(runs):
    row = _rows(compare_runs(runs["a"], runs["slow"]))["latency_p999_ms"]
    assert row.verdict == NO_DATA and "A has 7,500 and B has 7,500; it needs 10,000" in row.reason


def test_unknown_tolerance_metrics_are_refused():
    with pytest.raises(ToleranceError, match="unknown metric 'p99'"):
        parse_tolerances(["p99=10%"])
    with pytest.raises(ToleranceError, match="METRIC=VALUE"):
        parse_tolerances(["latency_p99_ms"])


def test_runs_of_different_scenarios_or_load_shapes_are_refused(runs):
    with pytest.raises(CompareRefused, match=r"different scenarios \(synthetic and health\)"):
        compare_runs(runs["a"], runs["other"])
    with pytest.raises(CompareRefused, match=r"load shapes \(load.rate_rps 500.0 vs 400.0\)"):
        compare_runs(runs["a"], runs["faster"])


def test_a_missing_run_directory_is_refused(runs, tmp_path):
    with pytest.raises(RunDirError, match="run directory not found"):
        compare_runs(runs["a"], tmp_path / "nope")


def test_ttft_is_compared_only_where_a_run_streams(runs, tmp_path):
    assert "ttft_p50_ms" not in _rows(compare_runs(runs["a"], runs["a2"]))
    # the same scenario, but only B's requests streamed: TTFT is NO DATA, not a verdict
    streams = tmp_path / "streams"
    shutil.copytree(runs["streams"], streams)
    (streams / "scenario.yaml").write_text(
        yaml.safe_dump(yaml.safe_load((runs["a"] / "scenario.yaml").read_text()))
    )
    row = _rows(compare_runs(runs["a"], streams))["ttft_p50_ms"]
    assert row.verdict == NO_DATA and "A has no TTFT P50" in row.reason


def test_the_fixture_run_against_itself_is_never_worse_or_better():
    comparison = compare_runs(FIXTURE_RUN, FIXTURE_RUN)
    rows = _rows(comparison)
    assert {row.verdict for row in comparison.rows} <= {SAME, INCONCLUSIVE, NO_DATA}
    assert rows["latency_p50_ms"].verdict == SAME
    # a run of 100 req/s with 0.6 % errors cannot pin its error rate to ±0.5 points
    assert rows["error_rate"].verdict == INCONCLUSIVE
    # 350 requests: P99 and P99.9 rest on 3 and 0 values beyond them
    assert rows["latency_p99_ms"].verdict == rows["latency_p999_ms"].verdict == NO_DATA
    judged = [row for row in comparison.rows if row.verdict != NO_DATA]
    assert all(row.delta == 0 and row.low <= 0 <= row.high for row in judged)


def test_outputs_are_written(runs, tmp_path):
    comparison = compare_runs(runs["a"], runs["slow"])
    written = write_comparison(tmp_path / "cmp", comparison)
    names = {p.name for p in written}
    assert {RESULT_FILE, SUMMARY_MD_FILE, JUNIT_FILE, REPORT_FILE} <= names
    assert {"compare-latency-percentiles.png", "compare-latency-over-time.png"} <= names
    document = json.loads((tmp_path / "cmp" / RESULT_FILE).read_text())
    assert document["verdict"] == WORSE and document["exit_code"] == 1
    p50 = next(m for m in document["metrics"] if m["metric"] == "latency_p50_ms")
    assert p50["verdict"] == WORSE and p50["interval"][0] > p50["tolerance"]
    suite = ET.parse(tmp_path / "cmp" / JUNIT_FILE).getroot()
    worse = sum(row.verdict == WORSE for row in comparison.rows)
    assert suite.get("failures") == str(worse) and worse >= 3
    assert "WORSE" in (tmp_path / "cmp" / SUMMARY_MD_FILE).read_text()
    html = (tmp_path / "cmp" / REPORT_FILE).read_text()
    assert 'src="./compare-latency-percentiles.png"' in html and "latency_p50_ms" in html
