"""The analysis benchmark runs end to end on a small synthetic run."""

from __future__ import annotations

import pytest

from analysis.bench import main


@pytest.mark.slow
def test_bench_small(capsys):
    assert main(["--rows", "20000"]) == 0
    out = capsys.readouterr().out
    assert "goals met" in out and "peak RSS" in out
