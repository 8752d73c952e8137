"""Realism: an API key from the environment is sent and written nowhere; timing headers recorded."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from tests.loadtests.conftest import REPO, only_run_dir, start_bench_target, stop

pytestmark = [pytest.mark.slow, pytest.mark.live]

SECRET = "sk-edgeperf-test-7f3a9c"


def _scenario(path, **target) -> str:
    path.write_text(
        yaml.safe_dump(
            {
                "name": "realism",
                "target": target,
                "load": {"rate_rps": 50, "ramp": "0s", "duration": "2s"},
                "requests": [{"kind": "health", "weight": 1, "path": "/health"}],
                "targets": {"latency_p99_ms": "< 1000"},
            }
        )
    )
    return str(path)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadtests.cli", "run", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )  # fmt: skip


def test_api_key_from_the_environment_is_sent_and_written_nowhere(tmp_path):
    heads = tmp_path / "heads.bin"
    target = start_bench_target(tmp_path, "--log-heads", str(heads))
    scenario = _scenario(tmp_path / "s.yaml", api_key_env="EDGEPERF_TEST_KEY")
    try:
        result = _run([scenario, "--host", target.url, "--out", str(tmp_path / "r")],
                      {"EDGEPERF_TEST_KEY": SECRET})  # fmt: skip
    finally:
        stop(target.proc)
    assert result.returncode == 0, result.stderr
    assert f"Authorization: Bearer {SECRET}".encode() in heads.read_bytes()
    run_dir = only_run_dir(tmp_path / "r")
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in result.stdout + result.stderr


def test_missing_api_key_variable_fails_before_any_load(tmp_path):
    scenario = _scenario(tmp_path / "s.yaml", api_key_env="EDGEPERF_UNSET_KEY_VAR")
    env = {k: v for k, v in os.environ.items() if k != "EDGEPERF_UNSET_KEY_VAR"}
    result = subprocess.run(
        [sys.executable, "-m", "loadtests.cli", "run", scenario, "--out", str(tmp_path / "r")],
        cwd=REPO, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "EDGEPERF_UNSET_KEY_VAR" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_timing_headers_of_the_stand_in_are_recorded(tmp_path):
    scenario = tmp_path / "chat.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "timing",
                "load": {"rate_rps": 100, "ramp": "0s", "duration": "3s"},
                "requests": [
                    {"kind": "chat", "weight": 1, "method": "POST", "path": "/v1/chat/completions",
                     "chat": {"prompt_pool": 20, "repeat_rate": 0.5}}
                ],
                "stand_in": {"upstream": {"distribution": "constant", "median_ms": 20},
                             "telemetry": False},
                "targets": {"latency_p99_ms": "< 1000"},
            }
        )
    )  # fmt: skip
    result = _run([str(scenario), "--out", str(tmp_path / "r"), "--quiet"], {})
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(tmp_path / "r")
    samples = pd.concat(pd.read_parquet(p) for p in (run_dir / "samples").glob("*.parquet"))
    misses = samples[samples["cache"] == "MISS"]
    hits = samples[samples["cache"] == "HIT"]
    assert len(misses) > 50 and len(hits) > 50
    assert (misses["upstream_us"] >= 19_000).all()  # never less than the 20 ms it slept
    assert misses["upstream_us"].median() < 40_000  # a sleep of 20 ms, woken late at worst
    assert (hits["upstream_us"] == 0).all()
    # The stand-in's own time beside the upstream's: small against the 20 ms upstream.
    assert (samples["overhead_us"] >= 0).all() and samples["overhead_us"].median() < 10_000
