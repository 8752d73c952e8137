"""Trace files: both layouts read into the same arrays; every bad file names its file and line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from loadtests.config.scenario import load_scenario
from loadtests.config.tracefiles import TraceFileError, read_trace
from loadtests.errors import EXIT_CANNOT_JUDGE, ScenarioError

REPO = Path(__file__).resolve().parents[2]


def _jsonl(tmp_path: Path, rows: list, name: str = "t.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _row(ts: float, inp: int = 10, out: int = 5, **extra) -> dict:
    return {"timestamp": ts, "input_length": inp, "output_length": out, **extra}


def test_mooncake_rows_become_times_from_the_first_row_lengths_and_blocks(tmp_path):
    path = _jsonl(
        tmp_path,
        [
            _row(1000, 600, 7, hash_ids=[4, 5]),
            "",
            _row(1000.5, 3, 1),
            _row(2500, 512, 9, hash_ids=[4]),
        ],
    )
    trace = read_trace(path)
    assert trace.format == "mooncake"
    assert trace.times_us.tolist() == [0, 500, 1_500_000]
    assert trace.input_tokens.tolist() == [600, 3, 512]
    assert trace.output_tokens.tolist() == [7, 1, 9]
    assert [trace.blocks(i).tolist() for i in range(3)] == [[4, 5], [], [4]]


def test_azure_csv_reads_datetimes_with_seven_digits_and_columns_in_any_order(tmp_path):
    path = tmp_path / "azure.csv"
    path.write_text(
        "GeneratedTokens,Other,ContextTokens,TIMESTAMP\n"
        "12,x,300,2023-11-16 18:15:46.6805900\n"
        "0,y,4,2023-11-16 18:15:47.6805909\n"  # the 7th digit (100 ns) is dropped
    )
    trace = read_trace(path)
    assert trace.format == "azure"
    assert trace.times_us.tolist() == [0, 1_000_000]
    assert trace.input_tokens.tolist() == [300, 4]
    assert trace.output_tokens.tolist() == [12, 0]
    assert len(trace.hash_ids) == 0


def test_auto_detects_by_content_without_a_known_suffix(tmp_path):
    path = _jsonl(tmp_path, [_row(0), _row(1)], name="trace.txt")
    assert read_trace(path).format == "mooncake"
    assert read_trace(path, "mooncake").format == "mooncake"


BAD_JSONL = [
    ([_row(0), {"timestamp": 1, "input_length": 3}], 2, "missing field(s) output_length"),
    ([_row(5), _row(4)], 2, "earlier than the row before"),
    ([_row(0), _row(1, inp=-3)], 2, "input_length is negative"),
    ([_row(0), _row(1, out=-1)], 2, "output_length is negative"),
    ([_row(0), "{not json"], 2, "not a JSON object"),
    ([_row(0), _row(1, inp=2.5)], 2, "whole number"),
    ([_row("soon")], 1, "timestamp must be a number"),
    ([_row(0, hash_ids=["a"])], 1, "hash_ids must be a list of integers"),
]


@pytest.mark.parametrize(("rows", "line", "problem"), BAD_JSONL)
def test_a_bad_jsonl_row_names_the_file_the_line_and_the_problem(tmp_path, rows, line, problem):
    path = _jsonl(tmp_path, rows)
    with pytest.raises(TraceFileError) as caught:
        read_trace(path)
    message = str(caught.value)
    assert message.startswith(f"trace file {path}, line {line}: ")
    assert problem in message
    assert "\n" not in message
    assert caught.value.exit_code == EXIT_CANNOT_JUDGE


BAD_CSV = [
    ("TIMESTAMP,ContextTokens\n2023-11-16 18:15:46,3\n", 1, "missing column(s) GeneratedTokens"),
    (
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:15:47,3,1\n2023-11-16 18:15:46,3,1\n",
        3,
        "earlier than the row before",
    ),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,-3,1\n", 2, "negative"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,3,1\n", 2, "not a date-time"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,many,1\n", 2, "not a number"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,3\n", 2, "2 column(s)"),
]


@pytest.mark.parametrize(("text", "line", "problem"), BAD_CSV)
def test_a_bad_csv_row_names_the_file_the_line_and_the_problem(tmp_path, text, line, problem):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(TraceFileError) as caught:
        read_trace(path)
    assert str(caught.value).startswith(f"trace file {path}, line {line}: ")
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("empty.jsonl", "", "is empty"),
        ("blank.jsonl", "\n  \n", "is empty"),
        ("header.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n", "has no rows"),
    ],
)
def test_an_empty_trace_is_refused(tmp_path, name, text, problem):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TraceFileError, match=problem):
        read_trace(path)


def test_a_missing_or_unreadable_file_is_named(tmp_path):
    with pytest.raises(TraceFileError, match="not found"):
        read_trace(tmp_path / "nowhere.jsonl")
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(TraceFileError, match="cannot be read"):
        read_trace(binary)


def _scenario(tmp_path: Path, trace: dict) -> Path:
    data = {
        "name": "replay",
        "load": {"trace": trace},
        "requests": [
            {"kind": "chat", "weight": 1, "method": "POST", "path": "/v1/chat/completions",
             "chat": {}},
        ],
    }  # fmt: skip
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_scenario_with_a_bad_trace_fails_to_load_with_the_trace_files_line(tmp_path):
    _jsonl(tmp_path, [_row(0), _row(1, out=-2)], name="bad.jsonl")
    with pytest.raises(ScenarioError, match=r"bad\.jsonl, line 2: output_length is negative"):
        load_scenario(_scenario(tmp_path, {"file": "bad.jsonl"}))


def test_a_scenario_trace_needs_a_chat_kind_and_no_stages(tmp_path):
    _jsonl(tmp_path, [_row(0), _row(1)], name="ok.jsonl")
    path = _scenario(tmp_path, {"file": "ok.jsonl", "kind": "other"})
    with pytest.raises(ScenarioError, match="request kind named 'other' with a chat section"):
        load_scenario(path)
    data = yaml.safe_load(_scenario(tmp_path, {"file": "ok.jsonl"}).read_text())
    data["load"]["stages"] = [{"duration": 5, "rate_rps": 10}]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError, match="a trace replaces load.stages"):
        load_scenario(path)


def test_edgeperf_run_with_a_bad_trace_exits_2_with_one_sentence_and_no_traceback(tmp_path):
    _jsonl(tmp_path, [_row(3), _row(2)], name="unsorted.jsonl")
    scenario = _scenario(tmp_path, {"file": "unsorted.jsonl"})
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.cli", "run", str(scenario), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unsorted.jsonl, line 2: timestamp is earlier than the row before" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("*-replay"))  # refused before any run directory


def test_the_shipped_traces_are_what_the_script_writes(tmp_path):
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_traces.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ("mooncake-small.jsonl", "azure-small.csv"):
        assert (tmp_path / name).read_bytes() == (REPO / "scenarios" / "traces" / name).read_bytes()
        trace = read_trace(tmp_path / name)
        assert 1000 < len(trace) < 5000
        gaps = np.diff(trace.times_us)
        assert gaps.max() > 10 * np.median(gaps)  # bursty: some long quiet gaps, many short ones
