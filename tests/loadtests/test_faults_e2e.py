"""The harness keeps its word when the target misbehaves: errors classified, schedule kept."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from tests.loadtests.conftest import (
    only_run_dir,
    run_cli,
    start_bench_target,
    stop,
    summary_of,
    write_scenario,
)

pytestmark = [pytest.mark.slow, pytest.mark.live]


def _samples(run_dir) -> pd.DataFrame:
    return pd.concat(pd.read_parquet(p) for p in (run_dir / "samples").glob("*.parquet"))


@pytest.mark.parametrize(
    ("mode", "error_class"),
    [
        ("status5xx", "HTTP 503"),
        ("malformed", "malformed response"),
        ("truncated", "connection closed"),
        ("reset", "connection reset"),
        ("hang", "timeout"),
    ],
)
def test_misbehaving_target_errors_are_counted_and_classified(tmp_path, mode, error_class):
    target = start_bench_target(tmp_path, "--mode", mode)
    try:
        scenario = write_scenario(tmp_path / "s.yaml", rate_rps=50, duration="2s", timeout="1s")
        result = run_cli("run", str(scenario), "--host", target.url, "--out", str(tmp_path / "r"))
    finally:
        stop(target.proc)
    assert result.returncode == 1, result.stderr  # the error-rate target fails
    assert "Traceback" not in result.stderr
    run_dir = only_run_dir(tmp_path / "r")
    samples = _samples(run_dir)
    assert len(samples) == 100  # every scheduled request was sent and recorded
    assert set(samples["error"]) == {error_class}
    summary = summary_of(run_dir)
    assert summary["measurements"]["error_rate"] == 1.0
    verdicts = {v["metric"]: v["status"] for v in summary["verdicts"]}
    assert verdicts["error_rate"] == "FAIL"
    if mode == "hang":  # timed out at the scenario's 1 s, measured as such
        assert 990 <= summary["measurements"]["service_time_ms"]["p50"] <= 1500


def test_slow_bodies_are_measured_not_failed(tmp_path):
    target = start_bench_target(tmp_path, "--mode", "slow", "--slow-ms", "300")
    try:
        scenario = write_scenario(tmp_path / "s.yaml", rate_rps=50, duration="2s")
        result = run_cli("run", str(scenario), "--host", target.url, "--out", str(tmp_path / "r"))
    finally:
        stop(target.proc)
    run_dir = only_run_dir(tmp_path / "r")
    samples = _samples(run_dir)
    assert (samples["error"] == "").all()
    first_byte_ms = (samples["ttfb_us"] - samples["sent_us"]) / 1000
    body_ms = (samples["done_us"] - samples["ttfb_us"]) / 1000
    assert first_byte_ms.median() < 150 and body_ms.min() > 250  # headers fast, body late
    assert summary_of(run_dir)["measurements"]["latency_ms"]["p50"] > 290
    assert result.returncode == 1  # P50 < 10 ms fails: the body took 300 ms


def test_target_killed_mid_run_then_back(tmp_path):
    target = start_bench_target(tmp_path)
    port = target.url.rsplit(":", 1)[1]
    scenario = write_scenario(tmp_path / "s.yaml", rate_rps=100, duration="12s")
    import subprocess
    import sys

    from tests.loadtests.conftest import REPO

    run = subprocess.Popen(
        [sys.executable, "-m", "loadtests.cli", "run", str(scenario), "--host", target.url,
         "--out", str(tmp_path / "r"), "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        target.wait_served(300)  # about 3 s of load
    except AssertionError:
        run.kill()
        raise
    stopping_at = time.time()
    stop(target.proc)
    down_at = time.time()
    time.sleep(2.5)  # the outage itself: 2.5 s, about 250 refused requests
    starting_at = time.time()
    back = start_bench_target(tmp_path, "--port", port)
    back_at = time.time()
    try:
        stdout, stderr = run.communicate(timeout=120)
    finally:
        stop(back.proc)
    assert run.returncode == 1, stderr
    run_dir = only_run_dir(tmp_path / "r")
    samples = _samples(run_dir)
    assert len(samples) == 1200  # the schedule went on while the target was down
    failed = samples[samples["error"] != ""]
    assert set(failed["error"]) <= {"connection refused", "connection reset", "connection closed"}
    assert (failed["error"] == "connection refused").sum() > 150
    first_fail_s = failed["intended_us"].min() / 1e6
    last_fail_s = failed["intended_us"].max() / 1e6
    # Failures start while the target is being stopped and end while the new one starts; the
    # windows are the moments the test acted, with a quarter second for requests in flight.
    assert stopping_at - 0.25 < first_fail_s < down_at + 0.25, (stopping_at, first_fail_s, down_at)
    assert starting_at - 0.25 < last_fail_s < back_at + 0.25, (starting_at, last_fail_s, back_at)
    ok_after = samples[(samples["intended_us"] / 1e6 > back_at + 0.2)]
    assert len(ok_after) > 100 and (ok_after["error"] == "").all()
    summary = summary_of(run_dir)
    assert summary["measurements"]["errors"] == len(failed[failed["intended_us"] >= 0])
    meta = json.loads((run_dir / "metadata.json").read_text())
    assert meta["outcome"] == "completed"
    # The report says when the target went down and when it came back.
    (outage,) = summary["measurements"]["outages"]
    start_s = meta["load"]["start_us"] / 1e6
    assert stopping_at - 0.5 < start_s + outage["start_s"] < down_at + 0.5, outage
    assert starting_at - 0.5 < start_s + outage["recovered_s"] < back_at + 0.5, outage
    assert any(w.startswith("target failing from") for w in summary["warnings"])
    assert "target failing from" in (run_dir / "index.html").read_text()


def test_sigterm_stops_the_load_and_keeps_what_was_measured(tmp_path, bench_target):
    import signal
    import subprocess
    import sys

    from tests.loadtests.conftest import REPO

    scenario = write_scenario(tmp_path / "s.yaml", duration="60s")
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadtests.cli", "run", str(scenario), "--host", bench_target.url,
         "--out", str(tmp_path / "r"), "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        bench_target.wait_served(300)  # the load is running: about 1.5 s of it at 200 req/s
    except AssertionError:
        proc.kill()
        raise
    proc.send_signal(signal.SIGTERM)
    stopped_at = time.time()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    run_dir = only_run_dir(tmp_path / "r")
    summary = summary_of(run_dir)
    assert summary["status"] == "INTERRUPTED"
    samples = _samples(run_dir)
    assert samples["sent_us"].max() / 1e6 < stopped_at + 2.0  # load stopped within 2 s


def test_saturated_target_ends_on_schedule_and_counts_what_was_not_sent(tmp_path):
    """100 req/s of capacity offered 1000 req/s for 5 s: the run ends on schedule + drain."""
    scenario = tmp_path / "sat.yaml"
    import yaml

    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "saturated",
                "load": {"rate_rps": 1000, "ramp": "0s", "duration": "5s", "max_concurrency": 40,
                         "timeout": "2s"},
                "requests": [{"kind": "chat", "weight": 1, "method": "POST",
                              "path": "/v1/chat/completions", "chat": {"repeat_rate": 0.0}}],
                "stand_in": {"capacity_rps": 100, "telemetry": False},
                "targets": {"request_rate_rps": "800..1200", "error_rate": "< 1"},
            }
        )
    )  # fmt: skip
    result = run_cli("run", str(scenario), "--out", str(tmp_path / "r"), "--quiet")
    assert result.returncode == 1, result.stderr
    run_dir = only_run_dir(tmp_path / "r")
    summary = summary_of(run_dir)
    meta = json.loads((run_dir / "metadata.json").read_text())
    samples = _samples(run_dir)
    start_s = meta["load"]["start_us"] / 1e6
    # Nothing is sent after the schedule, and the last answer comes within the 2 s timeout
    # plus the drain's grace (bound: schedule + timeout + 5 s).
    assert samples["sent_us"].max() / 1e6 < start_s + 5.0 + 0.5
    assert samples["done_us"].max() / 1e6 < start_s + 5.0 + 2.0 + 5.0
    not_sent = meta["generator"]["not_sent"]
    assert len(samples) + not_sent == 5000  # every scheduled request: measured or not sent
    assert not_sent > 3000  # ~100 req/s taken of 1000 offered
    assert meta["generator"]["max_in_flight"] == 40
    measured = summary["measurements"]
    assert measured["not_sent"] == not_sent  # the whole schedule is the steady window
    assert measured["offered_rps"] == pytest.approx(1000, rel=0.01)
    assert measured["errors_by_class"]["not sent"] == not_sent
    assert measured["error_rate"] > 0.6  # not sent counts against the error rate
    verdicts = {v["metric"]: v["status"] for v in summary["verdicts"]}
    assert verdicts["request_rate_rps"] == "FAIL" and verdicts["error_rate"] == "FAIL"
    # Latency stays true: requests that waited for the cap are measured from their schedule
    # (a sent request waited up to the 2 s timeout for the cap; its response time includes it).
    assert (samples["sent_us"] - samples["intended_us"]).max() > 500_000
    assert measured["latency_ms"]["p50"] > measured["service_time_ms"]["p50"] + 500
    html = (run_dir / "index.html").read_text()
    assert "never sent" in html and "offered 1" in html


def _server_rows(tmp_path, prometheus_url: str, target_url: str):
    import yaml

    scenario = tmp_path / "prom.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "prom-fault",
                "load": {"rate_rps": 50, "ramp": "0s", "duration": "2s"},
                "requests": [{"kind": "health", "weight": 1, "path": "/health"}],
                "targets": {"latency_p99_ms": "< 1000", "memory_bytes": "< 2GB",
                            "cpu_percent": "< 200"},
            }
        )
    )  # fmt: skip
    started = time.monotonic()
    result = run_cli(
        "run", str(scenario), "--host", target_url, "--prometheus", prometheus_url,
        "--out", str(tmp_path / "r"), "--quiet",
    )  # fmt: skip
    summary = summary_of(only_run_dir(tmp_path / "r"))
    return result, {v["metric"]: v for v in summary["verdicts"]}, time.monotonic() - started


def test_prometheus_down_at_the_start_gives_no_data_rows_with_the_reason(tmp_path, bench_target):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result, rows, _ = _server_rows(tmp_path, closed, bench_target.url)
    assert result.returncode == 2, result.stderr
    assert rows["latency_p99_ms"]["status"] == "PASS"  # the client side is still judged
    for metric in ("memory_bytes", "cpu_percent"):
        assert rows[metric]["status"] == "NO DATA"
        assert rows[metric]["reason"] == f"Prometheus at {closed} refused the connection"
    assert "Traceback" not in result.stderr


def test_prometheus_that_never_answers_times_out_into_no_data(tmp_path, bench_target):
    (tmp_path / "prom").mkdir()
    silent = start_bench_target(tmp_path / "prom", "--mode", "hang")
    try:
        result, rows, took_s = _server_rows(tmp_path, silent.url, bench_target.url)
    finally:
        stop(silent.proc)
    assert result.returncode == 2, result.stderr
    assert rows["memory_bytes"]["status"] == "NO DATA"
    assert "did not answer" in rows["memory_bytes"]["reason"], rows["memory_bytes"]
    assert took_s < 90  # a hanging Prometheus costs timeouts, not a hung run
