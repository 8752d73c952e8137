"""Scaling out on Locust's master/worker mode: separate processes talking TCP on loopback.

The master (``edgeperf run --master-bind 127.0.0.2:PORT``), the workers (``edgeperf worker``)
and the target (127.0.0.3) each use their own loopback address, as they would their own machines.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from tests.loadtests.conftest import (
    REPO,
    LineWatcher,
    only_run_dir,
    start_bench_target,
    stop,
    summary_of,
    write_scenario,
)

MASTER_HOST, TARGET_HOST = "127.0.0.2", "127.0.0.3"


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _edgeperf(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "loadtests.cli", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _master(scenario, target_url: str, port: int, out, *extra: str) -> subprocess.Popen:
    return _edgeperf(
        "run", str(scenario), "--host", target_url, "--out", str(out), "--quiet",
        "--master-bind", f"{MASTER_HOST}:{port}", *extra,
    )  # fmt: skip


def _worker(port: int, skew_s: float = 0.0) -> subprocess.Popen:
    env = {"EDGEPERF_TEST_CLOCK_SKEW_S": str(skew_s)} if skew_s else None
    return _edgeperf("worker", "--master", f"{MASTER_HOST}:{port}", env=env)


def _finish(proc: subprocess.Popen, timeout_s: float = 120) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout_s)
    return proc.returncode, out


def _kill_all(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _samples(run_dir) -> pd.DataFrame:
    return pd.concat(pd.read_parquet(p) for p in sorted((run_dir / "samples").glob("*.parquet")))


@pytest.mark.slow
@pytest.mark.live
def test_two_workers_on_their_own_addresses_one_with_a_skewed_clock_merge_exactly(tmp_path):
    arrivals = tmp_path / "arrivals.txt"
    target = start_bench_target(tmp_path, "--arrivals-file", str(arrivals), host=TARGET_HOST)
    port = _free_port(MASTER_HOST)
    scenario = write_scenario(tmp_path / "s.yaml", rate_rps=400, duration="3s")
    out = tmp_path / "r"
    master = _master(scenario, target.url, port, out, "--expect-workers", "2")
    workers = [_worker(port), _worker(port, skew_s=0.3)]
    try:
        code, text = _finish(master)
        for worker in workers:  # the master's quit ends them
            assert _finish(worker, 30)[0] == 0
    finally:
        _kill_all(master, *workers)
        stop(target.proc)
    assert code == 0, text
    assert "Traceback" not in text
    run_dir = only_run_dir(out)
    samples = _samples(run_dir)
    assert len(samples) == 1200  # 400 req/s for 3 s, split by the two workers that joined
    assert samples.groupby("worker").size().to_dict() == {0: 600, 1: 600}
    gaps = samples["intended_us"].sort_values().diff().dropna()
    assert gaps.between(2499, 2501).all()  # the union is the single-process schedule
    meta = json.loads((run_dir / "metadata.json").read_text())
    clocks = {c["worker"]: c for c in meta["generator"]["clocks"]}
    skewed = [w for w, c in clocks.items() if c["clock_offset_us"] > 150_000]
    assert len(skewed) == 1, clocks
    for worker, clock in clocks.items():
        expected = 300_000 if worker in skewed else 0
        assert abs(clock["clock_offset_us"] - expected) <= clock["clock_rtt_us"] // 2 + 1000
    # Each worker sent on the master's time: no request reached the target before the schedule
    # began (a worker 300 ms ahead, uncorrected, would send its first ones 300 ms early), and
    # every recorded send time is on the target's (here: the same machine's) clock.
    arrived_us = np.sort(np.loadtxt(arrivals, dtype=np.int64))
    start_us = meta["load"]["start_us"]
    load_us = arrived_us[arrived_us > start_us - 1_000_000]  # not the master's /health check
    assert len(load_us) == 1200
    assert load_us[0] >= start_us - 1000
    for worker in (0, 1):
        sent = samples.loc[samples["worker"] == worker, "sent_us"]
        assert sent.min() >= start_us
    measured = summary_of(run_dir)["measurements"]
    assert measured["rate_rps"] == pytest.approx(400, rel=0.01)
    response_ms = np.sort((samples["done_us"] - samples["intended_us"]).to_numpy()) / 1000
    for q, key in ((50, "p50"), (95, "p95"), (99, "p99")):
        exact = np.percentile(response_ms, q, method="inverted_cdf")
        assert measured["latency_ms"][key] == pytest.approx(exact, abs=1e-9)


@pytest.mark.live  # no load: the run stops before sending, so it may run beside light tests
def test_a_worker_that_never_joins_is_named_and_the_run_exits_2(tmp_path, bench_target):
    port = _free_port(MASTER_HOST)
    scenario = write_scenario(tmp_path / "s.yaml", rate_rps=100, duration="2s")
    # The one worker is up before the master listens, so it joins at once: the 2 s deadline
    # only has to outlast the connection, not a Python start-up on a busy machine.
    worker = _worker(port)
    log = LineWatcher(worker.stdout)
    log.wait_for(lambda line: "Starting Locust" in line, "the worker's start")
    master = _master(
        scenario, bench_target.url, port, tmp_path / "r",
        "--expect-workers", "2", "--expect-workers-max-wait", "2",
    )  # fmt: skip
    try:
        code, text = _finish(master)
        worker_code = worker.wait(timeout=30)
    finally:
        _kill_all(master, worker)
    assert code == 2, text
    assert "only 1 of 2 Locust workers joined within 2 s (joined: " in text
    assert f"edgeperf worker --master {MASTER_HOST}:{port}" in text
    assert "Traceback" not in text
    assert bench_target.served() == 1  # only the /health check before the load: no load sent
    meta = json.loads((only_run_dir(tmp_path / "r") / "metadata.json").read_text())
    assert meta["outcome"] == "aborted"
    assert worker_code == 0  # told to quit by the master


@pytest.mark.slow
@pytest.mark.live
def test_a_worker_that_dies_mid_run_keeps_its_samples_and_the_run_is_incomplete(
    tmp_path, bench_target
):
    port = _free_port(MASTER_HOST)
    scenario = write_scenario(tmp_path / "s.yaml", rate_rps=200, duration="5s")
    out = tmp_path / "r"
    master = _master(scenario, bench_target.url, port, out, "--expect-workers", "2")
    workers = [_worker(port), _worker(port)]
    try:
        bench_target.wait_served(400)  # two seconds of load: both have flushed rows
        os.killpg(workers[1].pid, signal.SIGKILL)
        code, text = _finish(master)
        assert _finish(workers[0], 30)[0] == 0
    finally:
        _kill_all(master, *workers)
    assert code == 2, text
    assert "Traceback" not in text
    run_dir = only_run_dir(out)
    meta = json.loads((run_dir / "metadata.json").read_text())
    assert meta["outcome"] == "worker_lost"
    (lost,) = meta["generator"]["lost_workers"]
    notes = [n for n in meta["notes"] if n.startswith(f"worker {lost} (")]
    assert notes and "its samples until then are kept" in notes[0], meta["notes"]
    per_worker = _samples(run_dir).groupby("worker").size().to_dict()
    assert per_worker[1 - lost] == 500  # the survivor's whole share
    assert 0 < per_worker.get(lost, 0) < 500  # what the lost one sent before it died
    summary = summary_of(run_dir)
    assert summary["status"] == "INCOMPLETE"


@pytest.mark.slow
@pytest.mark.live
def test_workers_stop_their_load_and_exit_nonzero_when_the_master_dies(tmp_path, bench_target):
    port = _free_port(MASTER_HOST)
    scenario = write_scenario(tmp_path / "s.yaml", rate_rps=100, duration="120s")
    master = _master(scenario, bench_target.url, port, tmp_path / "r", "--expect-workers", "1")
    worker = _worker(port)
    log = LineWatcher(worker.stdout)
    try:
        bench_target.wait_served(100)
        os.killpg(master.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        master.wait()
        code = worker.wait(timeout=60)  # a hang fails here; the watch gives up after 5 s
        stopped_after_s = time.monotonic() - killed_at
    finally:
        _kill_all(master, worker)
    assert code == 2
    assert "no heartbeat from the master" in log.text()
    assert "Traceback" not in log.text()
    # Within seconds, not at the end of its 120 s schedule (nor Locust's own 60 s timeout).
    assert stopped_after_s < 30


@pytest.mark.slow
@pytest.mark.live
def test_standalone_locust_with_four_users_on_two_processes_sends_the_scenarios_rate(
    tmp_path, bench_target
):
    scenario = write_scenario(tmp_path / "s.yaml", rate_rps=100, duration="2s")
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--headless",
         "-u", "4", "-r", "4", "--processes", "2", "-t", "5s", "--scenario", str(scenario),
         "--host", bench_target.url, "--only-summary"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text
    assert "2 worker process(es) share 100 req/s: 50 req/s each" in text, text
    assert bench_target.served() == 200, text  # the scenario's 100 req/s for 2 s, not 4 times it
