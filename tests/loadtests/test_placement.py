"""CPU placement: the split per machine size, the GEN:STACK syntax, and real affinities."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from analysis.outputs.report import _placement_rows
from loadtests.config.scenario import load_scenario
from loadtests.errors import EXIT_CANNOT_JUDGE, ScenarioError
from loadtests.placement import (
    PlacementError,
    check_setting,
    decide,
    format_cpu_list,
    parse_cpu_list,
)


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("0", (0,)), ("0-3", (0, 1, 2, 3)), ("5,0-1", (0, 1, 5)), ("", ()), ("2,2", (2,))],
)
def test_cpu_lists_round_trip(text, cpus):
    assert parse_cpu_list(text) == cpus
    assert parse_cpu_list(format_cpu_list(cpus)) == cpus


def test_format_joins_runs():
    assert format_cpu_list((0, 1, 2, 5, 7, 8)) == "0-2,5,7-8"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("fast", "not auto, off or GEN:STACK"),
        ("1:1", "CPU 1 to both"),
        ("a:0", "'a' is not a CPU"),
        ("3-1:0", "runs backwards"),
        (":", "names no CPU"),
    ],
)
def test_bad_settings_say_what_is_wrong(value, problem):
    with pytest.raises(ValueError, match=problem):
        check_setting(value)


@pytest.mark.parametrize(
    ("cpus", "processes", "generator", "stack"),
    [
        ((0, 1), 1, (1,), (0,)),
        ((0, 1, 2, 3), 1, (3,), (0, 1, 2)),
        ((0, 1, 2, 3, 4, 5, 6, 7), 4, (4, 5, 6, 7), (0, 1, 2, 3)),
        ((0, 1, 2, 3), 3, (2, 3), (0, 1)),  # at most half the cores go to the generator
        ((2, 5), 1, (5,), (2,)),  # the CPUs this process may use, not 0..n-1
    ],
)
def test_auto_gives_the_generator_its_own_cores(cpus, processes, generator, stack):
    placement = decide("auto", embedded=True, generator_processes=processes, available=cpus)
    assert (placement.mode, placement.generator, placement.stack) == ("auto", generator, stack)
    assert not set(placement.generator) & set(placement.stack)
    assert set(placement.generator) | set(placement.stack) == set(cpus)


def test_more_processes_than_generator_cores_is_noted():
    placement = decide("auto", embedded=True, generator_processes=3, available=(0, 1, 2, 3))
    assert any("3 generator processes share 2 CPU(s)" in n for n in placement.notes)


def test_one_core_is_shared_and_says_so():
    placement = decide("auto", embedded=True, generator_processes=1, available=(0,))
    assert placement.mode == "shared"
    assert placement.generator == placement.stack == ()
    assert "share it" in placement.notes[0]


def test_external_target_is_not_pinned_by_auto():
    placement = decide("auto", embedded=False, generator_processes=1, available=(0, 1))
    assert (placement.mode, placement.generator, placement.stack) == ("off", (), ())


def test_manual_and_off():
    manual = decide("1:0", embedded=True, generator_processes=1, available=(0, 1))
    assert (manual.mode, manual.generator, manual.stack) == ("manual", (1,), (0,))
    external = decide("1:0", embedded=False, generator_processes=1, available=(0, 1))
    assert external.generator == (1,) and external.stack == ()
    assert "not used" in external.notes[0]
    off = decide("off", embedded=True, generator_processes=1, available=(0, 1))
    assert (off.mode, off.generator, off.stack) == ("off", (), ())


def test_a_cpu_this_process_cannot_use_is_refused_with_the_field():
    with pytest.raises(PlacementError) as info:
        decide("7:0", embedded=True, generator_processes=1, available=(0, 1))
    assert "load.placement '7:0': CPU 7 is not available here" in str(info.value)
    assert "may use 0-1" in str(info.value)
    assert info.value.exit_code == EXIT_CANNOT_JUDGE


def test_scenario_names_the_placement_field(tmp_path):
    path = tmp_path / "s.yaml"
    data = {"name": "t", "requests": [{"kind": "h", "weight": 1, "path": "/health"}]}
    data["load"] = {"placement": "1:1"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "field 'load.placement'" in str(info.value) and "both" in str(info.value)
    data["load"] = {"placement": "off"}
    path.write_text(yaml.safe_dump(data))
    assert load_scenario(path).load.placement == "off"
    assert load_scenario(path, {"load.placement": "1:0"}).load.placement == "1:0"


def _affinity_of_child() -> tuple[int, ...]:
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return tuple(yaml.safe_load(out))


def test_the_stack_inherits_its_cpus_and_the_process_gets_them_back():
    available = tuple(sorted(os.sched_getaffinity(0)))
    stack_cpus = available[:1]
    placement = decide(
        f"{format_cpu_list(available[1:])}:{format_cpu_list(stack_cpus)}",
        embedded=True,
        generator_processes=1,
        available=available,
    )
    with placement.stack_cpus():
        child = _affinity_of_child()
    assert child == stack_cpus
    assert tuple(sorted(os.sched_getaffinity(0))) == available  # restored at once
    assert _affinity_of_child() == available


def test_pinning_the_generator_moves_every_thread_and_is_recorded():
    available = tuple(sorted(os.sched_getaffinity(0)))
    generator = available[-1:]
    placement = decide(
        f"{format_cpu_list(generator)}:", embedded=True, generator_processes=1, available=available
    )
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    try:
        placement.pin_generator()
        try:
            threads = [int(t) for t in os.listdir("/proc/self/task")]
            assert {tuple(sorted(os.sched_getaffinity(t))) for t in threads} == {generator}
            record = placement.record({"helper": child.pid}).as_dict()
            assert record["processes"] == {
                "generator": format_cpu_list(generator),
                "helper": format_cpu_list(available),  # started before: not moved
            }
            assert record["generator_cpus"] == format_cpu_list(generator)
        finally:
            placement.release()
        assert tuple(sorted(os.sched_getaffinity(0))) == available
    finally:
        child.communicate(b"")


def test_the_report_says_where_each_process_ran():
    metadata = {
        "placement": {
            "mode": "auto",
            "available_cpus": "0-1",
            "processes": {"generator": "1", "agent": "0", "otlp_receiver": "0"},
        }
    }
    assert _placement_rows(metadata) == [
        ("placement (CPU affinity)", "auto: generator on CPU 1; agent, otlp receiver on CPU 0")
    ]
    metadata["placement"]["mode"] = "shared"
    assert _placement_rows(metadata)[0][1].startswith("not pinned (shared); CPUs available 0-1")
    assert _placement_rows({}) == []
