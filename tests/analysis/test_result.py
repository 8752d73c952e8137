"""The typed run result: summary.json written from it and read back, old summaries, renamed keys."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import BaseModel, ValidationError

import analysis.api
from analysis.api import analyze_run, format_verdict_table
from analysis.contract.schema import METADATA_FILE, SCENARIO_FILE, SUMMARY_FILE
from analysis.history.regressions import figures_of, read_record
from analysis.judging.result import Measurements, Percentiles, Record, RunResult, Stage
from analysis.judging.summary import summary_json
from analysis.outputs.ci import render_junit, render_summary_md
from analysis.outputs.llm_sections import llm_sections
from analysis.outputs.report import build_view, render_report
from analysis.outputs.shape_sections import shape_sections
from tests.analysis.helpers import TEST_TARGETS, write_run
from tests.analysis.shapes import constant_us, staged, staged_metadata
from tests.analysis.test_streaming import streamed_frame

RUN_SMALL = Path(__file__).resolve().parents[1] / "fixtures" / "run-small"

# The document as DESIGN.md shows it: what the first versions wrote, no groups at all.
OLD_SUMMARY: dict[str, Any] = {
    "scenario": "week1-baseline",
    "status": "PASS",
    "measurements": {"rate_rps": 998.7, "requests": 60000, "errors": 0, "error_rate": 0.0,
                     "latency_ms": {"p50": 1.2, "p95": 3.4, "p99": 7.8, "p999": 12.0,
                                    "max": 40.1}},
    "verdicts": [{"metric": "latency_p95_ms", "target": "< 50", "measured": 3.4, "unit": "ms",
                  "status": "PASS"}],
}  # fmt: skip


def _streamed_run(root: Path) -> Path:
    frame = streamed_frame(200).assign(
        cache=["HIT", "MISS"] * 100, overhead_us=150, upstream_us=2000
    )
    run_dir = write_run(root, frame, targets={"ttft_p95_ms": "< 2000"})
    scenario = yaml.safe_load((run_dir / SCENARIO_FILE).read_text())
    scenario["slo"] = {"ttft_ms": 500, "itl_ms": 50}
    (run_dir / SCENARIO_FILE).write_text(yaml.safe_dump(scenario))
    return run_dir


def _spike_run(root: Path) -> Path:
    frame, stages = staged(
        [(10, 100, constant_us(2_000)), (5, 400, constant_us(500_000)),
         (20, 100, lambda t_s: np.where(t_s < 3.0, 300_000, 2_000))],
        errors=lambda t_s: (t_s > 12) & (t_s < 12.5),
    )  # fmt: skip
    targets = {**TEST_TARGETS, "spike_recovery_s": "< 10"}
    return write_run(root, frame, meta=staged_metadata(stages), targets=targets)


@pytest.mark.parametrize("make_run", [None, _streamed_run, _spike_run], ids=["small", "stream",
                                                                            "spike"])  # fmt: skip
def test_summary_json_from_the_model_is_the_plain_document(tmp_path, monkeypatch, make_run):
    built: list[dict[str, Any]] = []
    original = analysis.api.build_summary

    def capture(*args: Any, **kwargs: Any) -> dict[str, Any]:
        built.append(original(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(analysis.api, "build_summary", capture)
    result = analyze_run(RUN_SMALL if make_run is None else make_run(tmp_path)).result
    text = result.to_json()
    assert text == summary_json(built[0])  # byte for byte: same keys, values, order
    back = RunResult.from_json(text, exact=True)
    assert back == result and back.to_json() == text


def test_a_key_the_model_does_not_name_fails_exact_reading_and_is_kept_otherwise():
    renamed = json.loads(json.dumps(OLD_SUMMARY))
    renamed["measurements"]["latency"] = renamed["measurements"].pop("latency_ms")
    with pytest.raises(ValidationError, match="latency"):
        RunResult.from_dict(renamed, exact=True)
    kept = RunResult.from_dict(renamed)
    assert kept.measurements.latency_ms.p95 is None  # the default: this is what "—" came from
    assert kept.to_dict() == renamed  # the unknown key is kept and written back


def test_an_old_summary_loads_with_defaults_and_writes_back_only_its_keys():
    result = RunResult.from_dict(OLD_SUMMARY)
    m = result.measurements
    assert m.latency_ms.p95 == 3.4 and m.requests == 60000 and isinstance(m.requests, int)
    assert m.window is None and m.spike is None and m.knee is None and m.memory_growth is None
    assert m.streaming.requests is None and m.goodput.percent is None and m.stages == []
    assert m.server.memory_max_bytes is None and m.generator.cpu_s is None
    assert result.warnings == [] and result.run.started_utc is None
    assert result.verdicts[0].margin is None and result.verdicts[0].reason == ""
    assert result.to_dict() == OLD_SUMMARY
    assert RunResult.from_dict({}).to_dict() == {}


@pytest.mark.parametrize("document", [OLD_SUMMARY, {}], ids=["old", "empty"])
def test_every_renderer_renders_an_old_or_empty_summary(document):
    result = RunResult.from_dict(document)
    html = render_report(build_view(result, [], {}, extra_sections=shape_sections(result)))
    assert result.scenario in html
    assert "<testsuites" in render_junit(result)
    assert "### Key measurements" in render_summary_md(result)
    assert llm_sections(result.measurements) == [] and shape_sections(result) == []
    last = format_verdict_table(result).splitlines()[-1]
    assert last == f"{result.scenario}: {result.status}".rstrip()
    figures = figures_of(result)
    assert figures["p95_ms"] == (3.4 if document else None) and figures["memory_bytes"] is None


def test_history_reads_an_old_summary(tmp_path):
    run_dir = tmp_path / "20260101T000000Z-old"
    run_dir.mkdir()
    (run_dir / SUMMARY_FILE).write_text(json.dumps(OLD_SUMMARY))
    (run_dir / METADATA_FILE).write_text(json.dumps({"load": {"rate_rps": 1000}}))
    record = read_record(run_dir)
    assert record is not None and record.status == "PASS" and record.scenario == "week1-baseline"
    assert record.figures["p99_ms"] == 7.8 and record.targets == {"latency_p95_ms": "< 50"}


def test_lenient_reading_drops_only_the_bad_values():
    document = {
        "status": "PASS",
        "measurements": {
            "requests": "many",
            "rate_rps": 5.0,
            "by_kind": {"chat": {"requests": 3}, "bad": "not an object"},
            "stages": [{"stage": 1, "met": True}, {"stage": "two"}],
        },
        "verdicts": [{"metric": "latency_p95_ms", "status": "PASS"}, "junk"],
        "future": {"x": 1},
    }
    with pytest.raises(ValidationError):
        RunResult.from_dict(document, exact=True)
    result = RunResult.from_dict(document)
    m = result.measurements
    assert m.requests is None and m.rate_rps == 5.0
    assert list(m.by_kind) == ["chat"] and m.by_kind["chat"].requests == 3
    assert m.stages[0] == Stage(stage=1, met=True) and m.stages[1].stage is None
    assert [v.metric for v in result.verdicts] == ["latency_p95_ms"]
    assert result.to_dict()["future"] == {"x": 1}


def test_a_misspelt_field_name_raises():
    result = RunResult.from_dict(OLD_SUMMARY)
    with pytest.raises(AttributeError):
        result.measurements.provided("latency")
    with pytest.raises(AttributeError):
        _ = getattr(result.measurements, "latency")  # noqa: B009 (the point is the name)
    assert result.measurements.provided("latency_ms") and not result.measurements.provided("knee")


# A fully populated result: every field of every model gets a value, so a renderer that shows
# "—" for one of them reads the wrong field (or none).


def _fill(annotation: Any) -> Any:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        return _fill(float if float in present else present[0])
    if origin is dict:
        return {"key": _fill(args[1])}
    if origin is list:
        return [_fill(args[0])]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {name: _fill(f.annotation) for name, f in annotation.model_fields.items()}
    return {float: 12.5, int: 3, bool: True, str: "text"}[annotation]


def _full_result() -> RunResult:
    document = _fill(RunResult)
    document["verdicts"][0]["metric"] = "memory_growth_mb_per_h"  # so its section is drawn
    return RunResult.from_dict(document, exact=True)


def _cells(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [cell for item in value for cell in _cells(item)]
    return []


def test_the_fill_sets_every_field():
    def unset(record: Any) -> list[str]:
        if isinstance(record, Record):
            missing = [n for n in type(record).model_fields if not record.provided(n)]
            return missing + [
                m for n in type(record).model_fields for m in unset(getattr(record, n))
            ]
        if isinstance(record, dict):
            return [m for v in record.values() for m in unset(v)]
        if isinstance(record, list):
            return [m for v in record for m in unset(v)]
        return []

    assert unset(_full_result()) == []


def test_no_renderer_shows_a_dash_for_a_value_that_exists():
    result = _full_result()
    view = build_view(result, [], {})
    rows: list[Any] = [
        view["key_measurements"],
        [row["cells"] for row in view["latency_rows"]],
        [[v["measured"], v["margin"]] for v in view["verdicts"]],
        [table["rows"] for table in view["breakdowns"]],
        [item["rows"] for item in view["figures"] if item["kind"] == "table"],
        [table["rows"] for section in view["llm_sections"] for table in section["tables"]],
        [section["rows"] for section in shape_sections(result)],
    ]
    ids = {s["id"] for s in view["llm_sections"]}
    assert ids == {"streaming", "token-usage", "goodput", "proxy-overhead", "cache-effect"}
    titles = [s["title"] for s in shape_sections(result)]
    assert titles == ["Stages", "Spike recovery", "Seconds after the spike", "Stress: the knee",
                      "Memory growth"]  # fmt: skip
    cells = _cells(rows)
    assert len(cells) > 150
    assert [c for c in cells if "—" in c] == []
    assert "—" not in render_junit(result) and "—" not in format_verdict_table(result)
    md = render_summary_md(result)
    key_row = md.split("### Key measurements")[1].splitlines()[4]
    assert "—" not in key_row and "12.500 ms" in key_row
    assert None not in figures_of(result).values()


def test_models_are_frozen_and_compare_by_value():
    a = RunResult.from_dict(OLD_SUMMARY)
    with pytest.raises(ValidationError):
        a.measurements.latency_ms.p50 = 2.0  # type: ignore[misc]
    assert a == RunResult.from_json(a.to_json())
    assert Measurements().latency_ms == Percentiles()
