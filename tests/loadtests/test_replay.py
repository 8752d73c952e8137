"""Trace replay: the timeline (window, speed-up, rate, loop), the worker split, the prompts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from loadtests.config.replay import TraceSpec, build_timeline, timeline_for
from loadtests.config.scenario import Scenario, load_scenario
from loadtests.config.tracefiles import TraceFileError, read_trace
from loadtests.engine.plan import Plan
from loadtests.engine.tracemix import synthesise_prompt

# Trace times 0, 1, 1, 3, 6 s; the row at 3 s has no output (invalid), the last one no input.
ROWS = [
    (0, 12, 4, [7, 8]),
    (1000, 5, 2, [7]),
    (1000, 20, 3, []),
    (3000, 8, 0, []),
    (6000, 0, 1, []),
]


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    path = tmp_path / "t.jsonl"
    path.write_text(
        "".join(
            json.dumps({"timestamp": ts, "input_length": i, "output_length": o, "hash_ids": h})
            + "\n"
            for ts, i, o, h in ROWS
        )
    )
    return path


def _timeline(path: Path, **options):
    spec = TraceSpec(file=str(path), **options)
    return build_timeline(read_trace(path), spec)


def test_a_plain_replay_keeps_the_trace_times_and_skips_rows_of_zero_length(trace_file):
    t = _timeline(trace_file)
    assert t.offsets_us.tolist() == [0, 1_000_000, 1_000_000]
    assert t.rows.tolist() == [0, 1, 2]
    assert t.invalid == 2 and t.outside_window == 0
    # no end: the pass is the span (6 s) plus one mean gap of the window's rows (6 s / 4)
    assert t.pass_s == pytest.approx(7.5)
    assert t.duration_s == pytest.approx(7.5)
    assert t.mean_rps == pytest.approx(3 / 7.5)


def test_speedup_divides_every_offset_and_the_duration(trace_file):
    t = _timeline(trace_file, speedup=4)
    assert t.offsets_us.tolist() == [0, 250_000, 250_000]
    assert t.duration_s == pytest.approx(7.5 / 4)


def test_the_window_keeps_start_to_end_and_counts_the_rest(trace_file):
    t = _timeline(trace_file, start_s=0.5, end_s=4)
    assert t.rows.tolist() == [1, 2]
    assert t.offsets_us.tolist() == [500_000, 500_000]  # from the window's start
    assert t.pass_s == pytest.approx(3.5)
    assert (t.outside_window, t.invalid) == (2, 1)


def test_rate_rps_picks_the_speedup_that_gives_that_mean_rate(trace_file):
    t = _timeline(trace_file, end_s=2, rate_rps=30)
    assert t.speedup == pytest.approx(30 * 2 / 3)
    assert t.mean_rps == pytest.approx(30)
    assert t.offsets_us.tolist() == [0, 50_000, 50_000]


def test_loop_lays_passes_end_to_end_with_the_same_rows(trace_file):
    t = _timeline(trace_file, end_s=2, loop=3, speedup=2)
    assert t.rows.tolist() == [0, 1, 2] * 3
    assert t.offsets_us.tolist() == [0, 500_000, 500_000, 1_000_000, 1_500_000, 1_500_000,
                                     2_000_000, 2_500_000, 2_500_000]  # fmt: skip
    assert np.all(np.diff(t.offsets_us) >= 0)
    assert t.duration_s == pytest.approx(3.0)
    summary = t.summary()
    assert summary["rows_scheduled"] == 9 and summary["rows_outside_window"] == 6


def test_an_empty_window_or_two_speeds_are_refused(trace_file):
    with pytest.raises(TraceFileError, match=r"no rows in the window \[10, end\) s"):
        _timeline(trace_file, start_s=10)
    with pytest.raises(TraceFileError, match="only rows with a zero length"):
        _timeline(trace_file, start_s=2.5, end_s=7)
    with pytest.raises(ValueError, match="speedup or rate_rps"):
        TraceSpec(file=str(trace_file), speedup=2, rate_rps=3)
    with pytest.raises(ValueError, match="end_s"):
        TraceSpec(file=str(trace_file), start_s=3, end_s=2)


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_workers_share_the_arrivals_without_loss_or_duplication(tmp_path, workers):
    path = tmp_path / "big.jsonl"
    stamps = np.sort(np.random.default_rng(3).integers(0, 20_000, size=500))
    path.write_text("".join(json.dumps({"timestamp": int(s), "input_length": 3,
                                        "output_length": 2}) + "\n" for s in stamps))  # fmt: skip
    t = _timeline(path, loop=2, speedup=3)
    shares = [t.share(w, workers) for w in range(workers)]
    offsets = np.concatenate([s[0] for s in shares])
    rows = np.concatenate([s[1] for s in shares])
    pairs = sorted(zip(offsets.tolist(), rows.tolist(), strict=True))
    assert pairs == sorted(zip(t.offsets_us.tolist(), t.rows.tolist(), strict=True))
    assert sum(len(s[0]) for s in shares) == 1000
    for offs, _ in shares:
        assert np.all(np.diff(offs) >= 0)  # each worker's share stays in time order


def _scenario(path: Path, **trace) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "replay",
            "load": {"trace": {"file": str(path), **trace}},
            "requests": [
                {"kind": "health", "weight": 1, "path": "/health"},
                {
                    "kind": "chat",
                    "weight": 1,
                    "method": "POST",
                    "path": "/v1/chat/completions",
                    "chat": {"models": {"m1": 1}, "stream": True},
                },
            ],
        }  # fmt: skip
    )


def test_the_scenario_is_one_judged_stage_of_the_replay_at_its_mean_rate(trace_file):
    scenario = _scenario(trace_file, speedup=2)
    (stage,) = scenario.load.resolved_stages()
    assert stage.judge and stage.duration == pytest.approx(3.75)
    assert stage.rate_rps == pytest.approx(3 / 3.75)
    assert scenario.load.steady_rate_rps() == pytest.approx(stage.rate_rps)
    assert scenario.trace_kind().kind == "chat"


def test_each_worker_sends_its_rows_with_their_lengths_at_their_times(trace_file):
    scenario = _scenario(trace_file, speedup=2)
    plan = Plan("http://127.0.0.1:9", scenario.model_dump(mode="json"), 0, worker_count=2)
    assert list(plan.schedule(0).offsets_us()) == [0, 500_000]
    assert list(plan.schedule(1).offsets_us()) == [500_000]
    mix = plan.mix(0, {"X-Test": "yes"})
    bodies = []
    for index in range(2):
        raw = mix.request_for(index).raw
        head, body = raw.split(b"\r\n\r\n", 1)
        assert b"X-Test: yes" in head and head.startswith(b"POST /v1/chat/completions ")
        bodies.append(json.loads(body))
    assert [b["max_tokens"] for b in bodies] == [4, 3]  # rows 0 and 2
    assert [len(b["messages"][0]["content"].split(" ")) for b in bodies] == [12, 20]
    assert all(b["stream"] is True and b["model"] == "m1" for b in bodies)
    assert mix.request_for(1).raw == mix.build(1).raw  # built again after the prebuilt is used


def test_prompts_have_exactly_the_input_length_in_words_and_share_block_prefixes(trace_file):
    trace = read_trace(trace_file)
    block = 4
    prompts = [synthesise_prompt(trace, row, block).split(" ") for row in range(3)]
    assert [len(p) for p in prompts] == [12, 5, 20]
    # rows 0 and 1 both start with block 7: its 4 words are shared, nothing after it
    assert prompts[0][:4] == prompts[1][:4] and prompts[0][0] == "b7"
    assert prompts[0][4] == "b8" and prompts[1][4] == "r1"
    # row 0 has 2 blocks of 4 words, then its own words; row 2 has no blocks at all
    assert prompts[0][8] == "r0" and prompts[2][0] == "r2"
    assert prompts[2][:4] != prompts[0][:4]


def test_a_long_block_repeats_its_filler_and_keeps_the_length(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"timestamp": 0, "input_length": 20_000, "output_length": 1,
                                "hash_ids": [1, 2]}) + "\n")  # fmt: skip
    words = synthesise_prompt(read_trace(path), 0, 12_000).split(" ")
    assert len(words) == 20_000 and words[0] == "b1" and words[12_000] == "b2"


def test_the_timeline_is_read_once_while_the_file_is_unchanged(trace_file):
    spec = TraceSpec(file=str(trace_file))
    assert timeline_for(spec) is timeline_for(spec)
    first = timeline_for(spec)
    trace_file.write_text(trace_file.read_text() + json.dumps({"timestamp": 9000,
                          "input_length": 1, "output_length": 1}) + "\n")  # fmt: skip
    assert len(timeline_for(spec).rows) == len(first.rows) + 1


def test_requests_are_built_ahead_only_while_the_schedule_has_not_started(trace_file):
    scenario = _scenario(trace_file).model_dump(mode="json")
    later = Plan("http://127.0.0.1:9", scenario, int((time.time() + 2) * 1e6), worker_count=1)
    mix = later.mix(0, {})
    assert mix.prebuilt == 3
    assert json.loads(mix.request_for(2).raw.split(b"\r\n\r\n")[1])["max_tokens"] == 3
    started = Plan("http://127.0.0.1:9", scenario, int(time.time() * 1e6), worker_count=1)
    assert started.mix(0, {}).prebuilt == 0


def test_the_rate_override_of_a_replay_sets_the_traces_mean_rate(tmp_path, trace_file):
    path = tmp_path / "replay.yaml"
    scenario = _scenario(trace_file, speedup=2).model_dump(mode="json")
    scenario["load"]["trace"]["file"] = trace_file.name  # relative: beside the scenario
    path.write_text(yaml.safe_dump(scenario))
    loaded = load_scenario(path, {"load.rate_rps": 12.0})
    assert loaded.load.trace is not None and loaded.load.trace.file == str(trace_file)
    assert loaded.load.trace.speedup is None and loaded.load.trace.rate_rps == 12.0
    assert loaded.load.steady_rate_rps() == pytest.approx(12.0)
