"""The process sampler on a real child process: found by pid or name, sampled, its end recorded."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator

import psutil
import pytest

from loadtests.errors import ScenarioError
from loadtests.serverside.procsampler import ProcessSampler, find_processes

T0 = 1_700_000_000.0


@pytest.fixture
def child() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    name = f"edgeperf-probe-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(["bash", "-c", f"exec -a {name} sleep 30"])
    try:
        deadline = time.monotonic() + 60  # only a real hang; bash execs in milliseconds
        while psutil.Process(proc.pid).cmdline()[:1] != [name]:  # until bash has exec'd
            assert time.monotonic() < deadline, "the probe process did not start"
            time.sleep(0.01)
        yield proc, name
    finally:
        proc.kill()
        proc.wait()


def _clock(step_s: float = 1.0):
    ticks = iter(range(1000))
    return lambda: T0 + step_s * next(ticks)


def test_samples_rss_and_cpu_by_pid(child):
    proc, _ = child
    sampler = ProcessSampler(find_processes(proc.pid, None), clock=_clock())
    for _ in range(3):
        sampler.sample_once()
    got = sampler.collected()
    memory = got.series[got.series["metric"] == "memory_bytes"]
    cpu = got.series[got.series["metric"] == "cpu_percent"]
    assert len(memory) == 3 and len(cpu) == 2  # the first read only sets the CPU baseline
    assert (memory["value"] > 0).all() and (cpu["value"] >= 0).all()
    assert set(got.series["source"]) == {"process"}
    assert f'"pid":"{proc.pid}"' in memory["labels"].iloc[0]
    assert [r["status"] for r in got.queries] == ["ok", "ok"]
    assert f"pid {proc.pid}" in got.queries[0]["query"] and got.queries[0]["unit"] == "bytes"


def test_finds_a_process_by_name(child):
    proc, name = child
    assert [p.pid for p in find_processes(None, name)] == [proc.pid]


def test_a_missing_process_is_a_scenario_error_before_the_load():
    done = subprocess.Popen(["true"])
    done.wait()
    with pytest.raises(ScenarioError, match=r"metrics\.process\.pid"):
        find_processes(done.pid, None)
    with pytest.raises(ScenarioError, match=r"metrics\.process\.name"):
        find_processes(None, f"no-such-{uuid.uuid4().hex}")
    assert find_processes(None, None) == []


def test_a_process_that_exits_mid_run_is_an_error_with_its_samples_kept(child):
    proc, _ = child
    sampler = ProcessSampler(find_processes(proc.pid, None), clock=_clock())
    sampler.sample_once()
    proc.kill()
    proc.wait()
    sampler.sample_once()
    got = sampler.collected()
    assert len(got.series) == 1
    assert got.queries[0]["status"] == "error"
    assert got.queries[0]["error"] == f"process {proc.pid} exited at +0.0 s"
