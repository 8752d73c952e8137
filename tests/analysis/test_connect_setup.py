"""Connection set-up (``connect_us``): its figures and report line, and older runs without it."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from analysis import analyze_run
from analysis.contract.schema import SAMPLES_DIR
from analysis.outputs.report import build_view
from analysis.reading.rundir import load_run
from tests.analysis.helpers import T0_US, samples, write_run

ROWS = 1000
LABEL = "connections opened (whole run)"


def _frame(connect_us: np.ndarray):
    return samples(T0_US + np.arange(ROWS) * 10_000).assign(connect_us=connect_us)


def _key_rows(analysis) -> dict[str, str]:
    return dict(build_view(analysis.result, [], analysis.metadata)["key_measurements"])


def test_opened_connections_and_their_setup_time(tmp_path):
    connect = np.full(ROWS, -1, dtype=np.int64)
    connect[[0, 1, 2, 500]] = [1_000, 2_000, 3_000, 40_000]  # a reconnect mid-run is slow
    analysis = analyze_run(write_run(tmp_path, _frame(connect)))
    generator = analysis.summary["measurements"]["generator"]
    assert generator["connections_opened"] == 4
    # Nearest rank over the four: P50 the 2nd, P99 the 4th.
    assert generator["connect_ms"] == {"p50": 2.0, "p99": 40.0, "max": 40.0}
    line = _key_rows(analysis)[LABEL]
    assert line.startswith("4; TCP connect + TLS P50 2") and "P99 40" in line


def test_a_run_written_before_connect_us_reads_it_as_reused(tmp_path):
    run_dir = write_run(tmp_path, samples(T0_US + np.arange(ROWS) * 10_000))
    for part in (run_dir / SAMPLES_DIR).glob("part-*.parquet"):
        table = pq.read_table(part)
        pq.write_table(table.drop_columns(["connect_us"]), part)
    assert (load_run(run_dir).samples["connect_us"] == -1).all()
    analysis = analyze_run(run_dir)
    assert analysis.summary["measurements"]["generator"]["connections_opened"] is None
    assert LABEL not in _key_rows(analysis)  # unknown, so no line rather than "0"
