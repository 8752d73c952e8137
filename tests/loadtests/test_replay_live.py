"""A tiny trace replayed by ``edgeperf run`` against a loopback target: every row accounted for."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.loadtests.conftest import only_run_dir, run_cli, summary_of

pytestmark = pytest.mark.live  # a real target on loopback, 37 requests: no load


def test_a_replayed_trace_sends_each_row_at_its_time_and_reports_the_rest(tmp_path, bench_target):
    rows = [{"timestamp": 20 * i, "input_length": 5 + i, "output_length": 1 + i} for i in range(40)]
    rows[10]["output_length"] = 0  # invalid: skipped
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    scenario = {
        "name": "replay-e2e",
        "load": {"trace": {"file": "t.jsonl", "end_s": 0.76, "speedup": 1}, "timeout": "5s"},
        "requests": [
            {"kind": "chat", "weight": 1, "method": "POST", "path": "/v1/chat/completions",
             "chat": {"models": {"m": 1}}},
        ],
        "targets": {"error_rate": "< 1"},
    }  # fmt: skip
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(scenario))
    out = tmp_path / "r"
    result = run_cli("run", str(tmp_path / "s.yaml"), "--host", bench_target.url, "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = only_run_dir(out)
    meta = json.loads((run_dir / "metadata.json").read_text())
    samples = pd.concat(pd.read_parquet(p) for p in (run_dir / "samples").glob("*.parquet"))
    offsets = np.sort(samples["intended_us"].to_numpy() - meta["load"]["start_us"])
    expected = [20_000 * i for i in range(38) if i != 10]  # rows 38, 39 are past end_s
    assert offsets.tolist() == expected
    replay = summary_of(run_dir)["measurements"]["replay"]
    assert replay["rows_in_file"] == 40 and replay["rows_sent"] == 37
    assert replay["rows_skipped"] == {
        "outside_window": 2,
        "invalid": 1,
        "not_sent": 0,
        "unaccounted": 0,
    }
    assert "Replay fidelity" in (run_dir / "index.html").read_text()
