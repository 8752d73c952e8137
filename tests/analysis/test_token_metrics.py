"""Token-latency definitions pinned on hand-made token timelines (docs/token-metrics.md).

Each stream is written as a run directory and analysed end to end, so the figures pass through
the parquet list column of chunk gaps and the part-by-part analysis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis import analyze_run
from analysis.contract.schema import SAMPLES_DIR
from analysis.judging.result import RunResult
from analysis.measuring.streaming import chunk_gaps_us
from analysis.outputs.llm_sections import streaming_section, usage_section
from tests.analysis.helpers import S_US, T0_US, samples, write_run

MS = 1000
SCENARIO_STREAMS = {"requests": [{"kind": "chat-stream", "chat": {"stream": True}}]}


def _stream(start_s: float, chunks_ms: list[float], usage: int | None, **extra) -> dict:
    """One stream sent 2 ms late, whose content chunks arrive ``chunks_ms`` after its intended
    send; it ends 5 ms after its last chunk (or at 50 ms without one)."""
    intended = T0_US + round(start_s * S_US)
    arrivals = [intended + round(c * MS) for c in chunks_ms]
    done = (arrivals[-1] if arrivals else intended + 45 * MS) + 5 * MS
    return {
        "intended_us": intended,
        "sent_us": intended + 2 * MS,
        "done_us": done,
        "first_token_us": arrivals[0] if arrivals else -1,
        "last_token_us": arrivals[-1] if arrivals else -1,
        "tokens": len(arrivals),
        "chunk_gaps_us": [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)],
        "completion_tokens": -1 if usage is None else usage,
        "prompt_tokens": -1 if usage is None else 20,
        "cached_tokens": -1 if usage is None else 5,
        **extra,
    }


def _frame(streams: list[dict]) -> pd.DataFrame:
    rows = pd.DataFrame(streams)
    base = samples(
        rows["intended_us"], sent_us=rows["sent_us"], done_us=rows["done_us"], kind="chat-stream"
    )
    extra = rows.drop(columns=["intended_us", "sent_us", "done_us"])
    return base.assign(**{name: extra[name].to_list() for name in extra.columns}).astype(
        {"first_token_us": "int64", "last_token_us": "int64", "tokens": "int32"}
    )


TIMELINES = [
    _stream(1.0, [100, 110, 120, 150], usage=4),  # steady: gaps 10, 10, 30
    _stream(2.0, [80], usage=1),  # one token: TTFT only
    _stream(3.0, [], usage=0),  # zero tokens, completed: E2E only
    _stream(4.0, [60, 70, 80], usage=5),  # the 2nd chunk carries 3 tokens: 2 gaps, 5 tokens
    _stream(5.0, [90, 90, 90], usage=3),  # three chunks read at once: gaps of 0
]


def _summary(tmp_path, streams: list[dict], targets: dict[str, str] | None = None) -> dict:
    run_dir = write_run(tmp_path, _frame(streams), targets=targets or {})
    scenario = run_dir / "scenario.yaml"
    scenario.write_text(scenario.read_text() + "requests:\n- kind: chat-stream\n  chat:\n"
                        "    stream: true\n")  # fmt: skip
    return analyze_run(run_dir).summary


def test_itl_is_one_sample_per_gap_and_tpot_one_per_request(tmp_path):
    s = _summary(tmp_path, TIMELINES)["measurements"]["streaming"]
    assert s["requests"] == 5 and s["completed"] == 5
    # ITL: the gaps 10, 10, 30 | 10, 10 | 0, 0 (ms), every one a sample, sorted
    # 0 0 10 10 10 10 30: P50 is the 4th (10), P90 the 7th (30), the mean per request would
    # have given 16.7, 10 and 0 instead.
    assert s["itl_gaps"] == 7
    assert (s["itl_gap_ms"]["p50"], s["itl_gap_ms"]["p90"]) == (10.0, 30.0)
    assert s["itl_gap_ms"]["max"] == 30.0
    # TPOT: (last − first) / (tokens − 1) with the server's token counts: 50/3, 20/4, 0/2;
    # the one-token and zero-token streams have none.
    assert s["tpot_requests"] == 3
    assert s["tpot_ms"]["p50"] == pytest.approx(5.0)  # 0, 5, 16.67: the 2nd
    assert s["tpot_ms"]["max"] == pytest.approx(50 / 3, abs=1e-3)
    assert s["itl_ms"] == s["tpot_ms"] and s["itl_requests"] == 3  # the old name, kept
    # TTFT from the intended send and from the actual one (2 ms later), for streams with a token
    assert s["ttft_requests"] == 4
    assert (s["ttft_ms"]["p50"], s["ttft_ms"]["max"]) == (80.0, 100.0)
    assert (s["ttft_from_send_ms"]["p50"], s["ttft_from_send_ms"]["max"]) == (78.0, 98.0)
    # E2E of every completed stream, the zero-token one included: 155 85 50 85 95
    assert s["e2e_requests"] == 5
    assert (s["e2e_ms"]["p50"], s["e2e_ms"]["max"]) == (85.0, 155.0)


def test_without_usage_a_chunk_counts_as_one_token(tmp_path):
    burst = _stream(4.0, [60, 70, 80], usage=None)
    s = _summary(tmp_path, [burst])["measurements"]["streaming"]
    assert s["tpot_ms"]["p50"] == pytest.approx(10.0)  # 20 ms over 3 chunks − 1
    assert s["itl_gap_ms"]["p50"] == 10.0


def test_new_and_old_names_judge_the_same_figures(tmp_path):
    targets = {"itl_p95_ms": "< 20", "tpot_p95_ms": "< 20", "itl_gap_p95_ms": "< 20",
               "e2e_p95_ms": "< 200", "usage_decode_tokens_per_s": "> 1"}  # fmt: skip
    summary = _summary(tmp_path, TIMELINES, targets)
    verdicts = {v["metric"]: v for v in summary["verdicts"]}
    assert verdicts["itl_p95_ms"]["measured"] == verdicts["tpot_p95_ms"]["measured"]
    assert verdicts["itl_p95_ms"]["status"] == "PASS"
    assert verdicts["itl_gap_p95_ms"]["measured"] == 30.0
    assert verdicts["itl_gap_p95_ms"]["status"] == "FAIL"
    assert "7 gaps between content chunks" in verdicts["itl_gap_p95_ms"]["source"]
    assert verdicts["e2e_p95_ms"]["measured"] == 155.0


def test_usage_rates_missing_share_and_disagreement(tmp_path):
    streams = [
        *TIMELINES,
        _stream(6.0, [50, 60], usage=None),  # a stream that did not report usage
        _stream(7.0, [50, 60], usage=None, error="timeout"),  # failed: not counted at all
    ]
    summary = _summary(tmp_path, streams)
    u = summary["measurements"]["usage"]
    assert (u["requests"], u["reported"]) == (6, 5)
    assert u["missing_percent"] == pytest.approx(100 / 6)
    assert (u["prompt_tokens"], u["cached_tokens"]) == (100, 25)
    assert u["cached_percent"] == pytest.approx(25.0)
    assert u["completion_tokens"] == 4 + 1 + 0 + 5 + 3
    assert u["output_tokens_per_s"] == pytest.approx(13 / 10)  # over the 10 s window
    # decode: streams reporting 2+ tokens: (4−1)+(5−1)+(3−1) tokens over 50+20+0 ms
    assert u["decode_streams"] == 3
    assert u["decode_tokens_per_s"] == pytest.approx(9 / 0.070)
    # only the burst disagrees: usage 5 against 3 chunks counted
    assert (u["streams_compared"], u["streams_disagreeing"]) == (5, 1)
    assert (u["stream_usage_tokens"], u["stream_chunks"]) == (13, 11)
    section = usage_section(RunResult.from_dict(summary).measurements)
    assert section is not None
    cells = {row[0]: row[1] for row in section["tables"][0]["rows"]}
    assert cells["without usage"] == "1 (16.67 %)"
    assert cells["streams whose usage ≠ counted chunks"] == "1 of 5 (20.00 %)"


def test_an_old_run_without_the_new_columns_still_reads(tmp_path):
    old = _frame(TIMELINES[:1]).drop(
        columns=["chunk_gaps_us", "completion_tokens", "prompt_tokens", "cached_tokens"]
    )
    run_dir = write_run(tmp_path, old, targets={"itl_p95_ms": "< 50"})
    table = pq.read_table(run_dir / SAMPLES_DIR / "part-00000.parquet")
    assert "chunk_gaps_us" not in table.column_names
    summary = analyze_run(run_dir).summary
    s = summary["measurements"]["streaming"]
    assert s["tpot_ms"]["p50"] == pytest.approx(50 / 3, abs=1e-3)  # chunks as tokens
    assert s["itl_gaps"] == 0  # no gaps were recorded: no made-up ITL
    assert summary["measurements"]["usage"]["missing"].startswith("no response")
    assert summary["verdicts"][0]["measured"] == pytest.approx(50 / 3, abs=1e-3)


def test_an_old_summary_shows_its_itl_as_tpot():
    old = {"measurements": {"streaming": {"requests": 3, "itl_ms": {"p50": 4.0},
                                          "itl_requests": 3}}}  # fmt: skip
    result = RunResult.from_dict(old)
    section = streaming_section(result.measurements)
    assert section is not None
    rows = {row[0]: row for row in section["tables"][0]["rows"]}
    assert rows["TPOT (per request)"][1:3] == ["3", "4.000 ms"]
    assert "ITL (each chunk gap)" not in rows  # never measured in that run: left out


def test_chunk_gaps_of_the_chosen_rows_from_arrow_or_plain_lists():
    lists = [[1, 2], [], [3], [4]]
    arrow = pd.arrays.ArrowExtensionArray(pa.array(lists, pa.list_(pa.int32())))
    rows = np.array([True, True, False, True])
    for column in (pd.Series(arrow), pd.Series(lists)):
        frame = pd.DataFrame({"chunk_gaps_us": column})
        assert chunk_gaps_us(frame, rows).tolist() == [1, 2, 4]
    assert chunk_gaps_us(frame, np.zeros(4, dtype=bool)).tolist() == []
    assert chunk_gaps_us(pd.DataFrame({"x": [1]}), np.ones(1, dtype=bool)).tolist() == []
