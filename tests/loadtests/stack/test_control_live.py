"""``edgeperf stack up|status|down`` in a subprocess, with its state in a temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

from loadtests.stack.launchers.control import ProcessEntry, StackState, format_status, process_alive

REPO = Path(__file__).resolve().parents[3]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadtests.cli", "stack", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _gone(entry: ProcessEntry) -> bool:
    return not process_alive(entry)


@pytest.mark.live
def test_up_status_down_round_trip_leaves_no_process(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "stack-test",
                "requests": [{"kind": "health", "weight": 1, "path": "/health"}],
                "stand_in": {"telemetry": False, "otlp": {"latency_ms": 1}},
            }
        )
    )
    state_dir = tmp_path / "state"
    up = _cli(
        "up", "--scenario", str(scenario), "--state-dir", str(state_dir), "--telemetry", "--redis"
    )
    assert up.returncode == 0, up.stderr
    state = StackState.from_json((state_dir / "state.json").read_text())
    try:
        assert (state.telemetry, state.redis) == (True, True)  # the flags beat the scenario
        assert {p.role for p in state.processes} == {
            "agent",
            "otlp_receiver",
            "redis",
            "prometheus",
        }
        assert state.urls["agent"] in up.stdout and state.urls["prometheus"] in up.stdout
        # The agent's direct listener (its upstream alone), and the gateway experiment on it.
        direct = f"--direct {state.urls['agent_direct']} --gateway {state.urls['agent']}"
        assert direct in up.stdout
        assert httpx.get(state.urls["agent_direct"] + "/health", trust_env=False).is_success
        assert httpx.get(state.urls["agent"] + "/health", trust_env=False).status_code == 200
        # Detached: none of them is a child of this test or of the finished `up` process.
        assert all(psutil.Process(p.pid).ppid() != psutil.Process().pid for p in state.processes)

        status = _cli("status", "--state-dir", str(state_dir))
        assert status.returncode == 0, status.stdout
        assert status.stdout.count(" up ") == 4

        again = _cli("up", "--state-dir", str(state_dir))
        assert again.returncode == 2
        assert "still running" in again.stderr and "stack down" in again.stderr
    finally:
        down = _cli("down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert all(_gone(p) for p in state.processes)
    assert not (state_dir / "state.json").exists()
    after = _cli("status", "--state-dir", str(state_dir))
    assert after.returncode == 1 and "no stack recorded" in after.stdout


def test_status_reports_a_dead_process_and_exits_1(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    me = psutil.Process()
    state = StackState(
        started_utc="2026-01-01T00:00:00+00:00",
        scenario="s.yaml",
        telemetry=False,
        redis=False,
        processes=(
            ProcessEntry("agent", me.pid, me.create_time(), "http://127.0.0.1:1", "m"),
            ProcessEntry("prometheus", dead.pid, 1.0, "http://127.0.0.1:2"),
        ),
        urls={"agent": "http://127.0.0.1:1"},
    )
    (tmp_path / "state.json").write_text(state.to_json())
    assert StackState.from_json(state.to_json()) == state
    status = _cli("status", "--state-dir", str(tmp_path))
    assert status.returncode == 1
    lines = status.stdout.splitlines()
    assert lines[0].split()[:2] == ["agent", "up"] and lines[1].split()[:2] == [
        "prometheus",
        "down",
    ]
    assert "down" in format_status([(state.processes[1], False)])


def test_the_stack_command_imports_neither_locust_nor_gevent(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from loadtests.cli import main\n"
        f"code = main(['stack', 'status', '--state-dir', {str(tmp_path)!r}])\n"
        "print(json.dumps([code, sorted(m for m in sys.modules if m in ('locust', 'gevent'))]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", "import json\n" + code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert json.loads(result.stdout.splitlines()[-1]) == [1, []]
