"""The checked-in run directory tests/fixtures/run-small, analysed end to end."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from analysis import analyze_run, write_outputs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RUN_SMALL = FIXTURES / "run-small"


@pytest.fixture
def run_small(tmp_path: Path) -> Path:
    copy = tmp_path / "run-small"
    shutil.copytree(RUN_SMALL, copy)
    return copy


def _independent_response_us() -> np.ndarray:
    """Response times of the steady window, straight from the parquet files."""
    load = json.loads((RUN_SMALL / "metadata.json").read_text())["load"]
    table = pq.ParquetDataset(sorted((RUN_SMALL / "samples").glob("part-*.parquet"))).read()
    intended = table.column("intended_us").to_numpy()
    done = table.column("done_us").to_numpy()
    keep = (intended >= load["judge_start_us"]) & (intended < load["judge_end_us"])
    return done[keep] - intended[keep]


def test_run_small_is_judged(run_small: Path):
    analysis = analyze_run(run_small)
    summary = analysis.summary
    assert summary["scenario"] == "run-small"
    assert analysis.status == "PASS" and analysis.exit_code == 0
    response = _independent_response_us()
    assert summary["measurements"]["requests"] == len(response) == 350
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        expected = np.quantile(response, q, method="inverted_cdf") / 1000
        assert summary["measurements"]["latency_ms"][name] == expected
    statuses = {v["metric"]: v["status"] for v in summary["verdicts"]}
    assert set(statuses.values()) == {"PASS"}
    assert len(statuses) == 8


def test_run_small_outputs(run_small: Path):
    written = write_outputs(run_small, analyze_run(run_small))
    names = {p.relative_to(run_small).as_posix() for p in written}
    assert {"summary.json", "index.html", "charts/throughput.png", "charts/latency.png"} <= names
    for path in written:
        assert path.stat().st_size > 0
    assert not (RUN_SMALL / "summary.json").exists()


def test_fixture_matches_its_script(tmp_path: Path):
    spec = importlib.util.spec_from_file_location("make_run_small", FIXTURES / "make_run_small.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = module.make(tmp_path / "fresh")
    for name in (
        "samples/part-00000.parquet",
        "samples/part-00001.parquet",
        "prometheus/series.parquet",
    ):
        assert pq.read_table(fresh / name).equals(pq.read_table(RUN_SMALL / name)), name
    for name in ("metadata.json", "prometheus/queries.json", "scenario.yaml"):
        assert (fresh / name).read_text() == (RUN_SMALL / name).read_text(), name
