"""OTLP export success end to end: the real SDK exporting to the embedded receiver with faults."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.loadtests.conftest import REPO, only_run_dir, summary_of

pytestmark = [pytest.mark.slow, pytest.mark.live]

# Small, frequent span batches so a few seconds hold a few hundred export requests.
SDK_ENV = {
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "8",
    "OTEL_BSP_SCHEDULE_DELAY": "50",
    "OTEL_METRIC_EXPORT_INTERVAL": "100",
    "OTEL_EXPORTER_OTLP_TIMEOUT": "1",  # seconds: a stalled collector fails exports quickly
}


def _run(tmp_path, otlp: dict) -> tuple[int, dict, str]:
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
                "stand_in": {"telemetry": True, "otlp": otlp},
                "targets": {"otlp_export_success": "> 99.9", "latency_p99_ms": "< 1000"},
            }
        )
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "loadtests.cli", "run", str(scenario), "--out",
         str(tmp_path / "r"), "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=180, env={**os.environ, **SDK_ENV},
    )  # fmt: skip
    summary = summary_of(only_run_dir(tmp_path / "r"))
    (otlp_row,) = [v for v in summary["verdicts"] if v["metric"] == "otlp_export_success"]
    return result.returncode, otlp_row, result.stderr


def test_receiver_refusing_5_percent_fails_with_about_95_percent_measured(tmp_path):
    code, row, stderr = _run(tmp_path, {"refuse_fraction": 0.05})
    assert row["status"] == "FAIL", row
    # Per-export refusals, item-weighted: batches differ in size, so the share of refused items
    # strays from the 5 % of refused exports (one 6 s run measured 87 %).
    assert 80 <= row["measured"] <= 99, row
    assert "otelcol_receiver" in row["source"]
    assert code == 1, stderr


def test_receiver_that_stops_answering_is_a_fail_not_no_data(tmp_path):
    code, row, stderr = _run(tmp_path, {"stall_at_s": "3s", "stall_for_s": "60s"})
    assert row["status"] == "FAIL", row
    assert row["measured"] is not None and row["measured"] < 99.9
    assert code == 1, stderr
