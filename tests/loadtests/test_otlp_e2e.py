"""OTLP export success end to end: the real SDK exporting to the embedded receiver with faults."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.loadtests.conftest import REPO, only_run_dir, summary_of

pytestmark = [pytest.mark.slow, pytest.mark.live]

# Small, frequent span batches so a few seconds hold a few hundred export requests; the SDK's
# own retry schedule (1 s, 2 s, ... within its 10 s timeout) is kept.
SDK_ENV = {
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "8",
    "OTEL_BSP_SCHEDULE_DELAY": "50",
    "OTEL_METRIC_EXPORT_INTERVAL": "100",
}


def test_refused_attempts_that_retries_deliver_are_100_percent_with_the_refusals_shown(tmp_path):
    # Before, accepted / (accepted + refused attempts) made this loss-free run a FAIL (~87 %).
    scenario = tmp_path / "otlp.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "otlp",
                "load": {"rate_rps": 200, "ramp": "1s", "duration": "8s"},
                "requests": [
                    {"kind": "chat", "weight": 1, "method": "POST",
                     "path": "/v1/chat/completions", "chat": {"repeat_rate": 0.5}},
                ],
                "stand_in": {"telemetry": True, "otlp": {"refuse_fraction": 0.05}},
                "targets": {"otlp_export_success": "> 99.9", "latency_p99_ms": "< 1000"},
            }
        )
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "loadtests.cli", "run", str(scenario), "--out",
         str(tmp_path / "r"), "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=180, env={**os.environ, **SDK_ENV},
    )  # fmt: skip
    run_dir = only_run_dir(tmp_path / "r")
    summary = summary_of(run_dir)
    (row,) = [v for v in summary["verdicts"] if v["metric"] == "otlp_export_success"]
    otlp = summary["measurements"]["server"]["otlp"]
    traces = otlp["signals"]["traces"]
    assert (row["status"], row["measured"]) == ("PASS", 100.0), (row, otlp)
    assert traces["refused"] > 0 and traces["retried"] > 0 and traces["failed"] == 0, traces
    # Each refusal holds the span exporter ~1 s, so many spans are still pending at the end (left
    # out). The agent and the receiver are scraped at different moments, several batches apart
    # on a busy machine, so their counts are not compared here (the live test of the stack does,
    # on settled counters).
    assert traces["delivered"] > 200 and traces["accepted"] > 200
    assert traces["pending"] is not None
    assert otlp["signals"]["metrics"]["delivered"] > 0
    assert row["source"].startswith(f"{otlp['deciding_signal']} decided"), row
    assert "OTLP delivery" in (run_dir / "index.html").read_text()
    assert result.returncode == 0, result.stderr
