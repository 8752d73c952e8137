"""Stage-based scenarios end to end on the embedded stand-in, whose capacity and leak are known."""

from __future__ import annotations

import math

import pytest
import yaml

from tests.loadtests.conftest import only_run_dir, run_cli, summary_of

pytestmark = [pytest.mark.slow, pytest.mark.live]

# Stage targets far above what the stand-in shows below its capacity on a busy machine (a few
# ms) and far below the queueing delay of a step well above it (hundreds of ms within a second).
STAGE = {"latency_p50_ms": "< 50", "latency_p95_ms": "< 150", "latency_p99_ms": "< 300",
         "error_rate": "< 1"}  # fmt: skip


def _run(tmp_path, name: str, load: dict, stand_in: dict, targets: dict, **extra) -> dict:
    chat = {"kind": "chat", "weight": 1, "method": "POST", "path": "/v1/chat/completions",
            "chat": {"prompt_pool": 50, "repeat_rate": 0.5}}  # fmt: skip
    scenario = {
        "name": name,
        "load": load,
        "requests": [chat],
        "stand_in": {
            "upstream": {"distribution": "constant", "median_ms": 1},
            "cache": False,
            "telemetry": False,
            **stand_in,
        },  # fmt: skip
        "targets": targets,
        **extra,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(scenario))
    result = run_cli("run", str(path), "--out", str(tmp_path / "r"), "--quiet")
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return summary_of(only_run_dir(tmp_path / "r"))


def _verdict(summary: dict, metric: str) -> dict:
    return next(v for v in summary["verdicts"] if v["metric"] == metric)


def test_stress_knee_is_the_last_step_below_the_capacity(tmp_path):
    # Two steps far below the known capacity of 300 req/s and two far above it.
    steps = [{"duration": "2s", "rate_rps": rate} for rate in (60, 120, 600, 900)]
    summary = _run(tmp_path, "knee", {"stages": steps}, {"capacity_rps": 300},
                   {"knee_rps": ">= 120"}, stage_targets=STAGE)  # fmt: skip
    knee = summary["measurements"]["knee"]
    assert knee["knee_rps"] == 120.0, summary["measurements"]["stages"]
    assert knee["first_failing_stage"] == 3 and knee["first_failing_rps"] == 600.0
    assert [s["met"] for s in summary["measurements"]["stages"]] == [True, True, False, False]
    assert _verdict(summary, "knee_rps")["status"] == "PASS"


def test_soak_slope_matches_the_known_leak(tmp_path):
    rate, leak = 200, 20_000
    load = {"rate_rps": rate, "ramp": "0s", "duration": "8s"}
    summary = _run(
        tmp_path, "leak", load, {"leak_bytes_per_request": leak}, {"memory_growth_mb_per_h": "< 50"}
    )
    growth = summary["measurements"]["memory_growth"]
    expected = rate * leak * 3600 / 1e6  # 14 400 MB/h
    assert growth["slope_mb_per_h"] == pytest.approx(expected, rel=0.25), growth
    verdict = _verdict(summary, "memory_growth_mb_per_h")
    assert verdict["status"] == "FAIL" and summary["status"] == "FAIL"


def test_spike_fails_its_stage_and_recovers(tmp_path):
    # 2 s at 600 req/s against a capacity of 400 leaves a backlog of 400 requests, which drains
    # at 400 - 100 req/s: about 1.3 s after the spike, well inside the 11 s that follow it.
    stages = [{"duration": "3s", "rate_rps": 100}, {"duration": "2s", "rate_rps": 600},
              {"duration": "11s", "rate_rps": 100}]  # fmt: skip
    summary = _run(tmp_path, "spike", {"stages": stages}, {"capacity_rps": 400},
                   {"spike_recovery_s": "< 10"}, stage_targets=STAGE)  # fmt: skip
    spike = summary["measurements"]["spike"]
    assert spike["stage"] == 2 and spike["spike_stage_met"] is False
    assert spike["recovered"] is True, spike
    assert math.isfinite(spike["recovery_s"]) and 0.8 <= spike["recovery_s"] <= 5.0
    assert _verdict(summary, "spike_recovery_s")["status"] == "PASS"
