"""The analysis streamed part by part gives exactly the summary.json of all samples in memory.

The reference summaries were written by the in-memory analysis (tests/fixtures/make_summaries.py)
on the same deterministic synthetic runs, several parts each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.api import analyze_run
from analysis.reading.synthetic import SyntheticRun, write_synthetic_run

REFERENCE = Path(__file__).parents[1] / "fixtures" / "summaries"
RUNS = {
    "plain": SyntheticRun(rows=6000, part_rows=1000),
    "rich": SyntheticRun(
        rows=20000, part_rows=3000, stream_share=0.5, stall_every_s=3.0, outage_s=(8.0, 9.0)
    ),
    "interrupted": SyntheticRun(rows=5000, part_rows=700, planned_s=60.0, outcome="interrupted"),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_streamed_summary_is_identical_to_the_in_memory_one(tmp_path, name):
    run = write_synthetic_run(tmp_path / name, RUNS[name])
    summary = json.loads(json.dumps(analyze_run(run).summary, sort_keys=True))
    expected = json.loads((REFERENCE / f"{name}.json").read_text(encoding="utf-8"))
    assert summary == expected
