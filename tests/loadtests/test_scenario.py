"""Scenario loading: every bad input names the file, the field and the problem."""

from pathlib import Path

import pytest
import yaml

from loadtests.config.scenario import load_scenario, parse_duration_s
from loadtests.errors import EXIT_CANNOT_JUDGE, ScenarioError

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _minimal(**extra) -> dict:
    data = {"name": "t", "requests": [{"kind": "health", "weight": 1, "path": "/health"}]}
    data.update(extra)
    return data


def test_shipped_scenarios_load_with_week1_targets():
    week1 = load_scenario(SCENARIOS / "week1-baseline.yaml")
    assert week1.load.rate_rps == 1000
    assert week1.load.ramp == 10 and week1.load.duration == 60
    targets = week1.parsed_targets()
    assert targets["latency_p50_ms"].value == 10 and targets["latency_p50_ms"].op == "<"
    assert targets["latency_p95_ms"].value == 50
    assert targets["latency_p99_ms"].value == 200
    assert targets["memory_bytes"].value == 2e9
    assert targets["cpu_percent"].value == 200
    assert targets["otlp_export_success"].op == ">" and targets["otlp_export_success"].value == 99.9
    assert targets["error_rate"].value == 1
    rate = targets["request_rate_rps"]
    assert (rate.value, rate.high) == (800, 1200)
    kinds = {r.kind: r for r in week1.requests}
    assert kinds["chat"].path == "/v1/chat/completions" and kinds["chat"].method == "POST"
    assert kinds["chat"].chat is not None and 0 < kinds["chat"].chat.repeat_rate < 1
    assert len(kinds["chat"].chat.models) > 1
    assert kinds["health"].weight < kinds["chat"].weight
    health = load_scenario(SCENARIOS / "health.yaml")
    assert [r.path for r in health.requests] == ["/health"]
    assert health.targets["latency_p95_ms"] == week1.targets["latency_p95_ms"]


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        (_minimal(load={"rate_rps": "fast"}), "load.rate_rps", "valid number"),
        (_minimal(load={"rate_rps": -5}), "load.rate_rps", "greater than 0"),
        (_minimal(load={"duration": "ten seconds"}), "load.duration", "cannot read duration"),
        (_minimal(load={"bogus": 1}), "load.bogus", "Extra inputs"),
        (_minimal(targets={"latency_p95_ms": "fast"}), "targets.latency_p95_ms", "cannot read"),
        (_minimal(targets={"latency_p95_ms": 50}), "targets.latency_p95_ms", "ambiguous"),
        (_minimal(targets={"latency_p42_ms": "< 5"}), "targets", "unknown metric"),
        (_minimal(target={"host": "localhost:8080"}), "target.host", "expected a URL"),
        ({"name": "t", "requests": []}, "requests", "at least 1"),
        (
            _minimal(requests=[{"kind": "c", "weight": 1, "path": "/x", "chat": {}}]),
            "requests.0",
            "method POST",
        ),
    ],
)
def test_bad_fields_are_named(tmp_path, data, field, problem):
    path = _write(tmp_path, data)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message
    assert f"field '{field}" in message
    assert problem in message
    assert info.value.exit_code == EXIT_CANNOT_JUDGE


def test_missing_and_unparseable_files(tmp_path):
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ScenarioError, match="mapping"):
        load_scenario(listy)


def test_overrides_apply_and_are_validated(tmp_path):
    path = _write(tmp_path, _minimal())
    scenario = load_scenario(
        path, {"load.rate_rps": 200, "load.duration": "20s", "load.ramp": None}
    )
    assert scenario.load.rate_rps == 200 and scenario.load.duration == 20
    assert scenario.load.ramp == 10  # None means: not overridden
    with pytest.raises(ScenarioError, match="field 'load.duration'"):
        load_scenario(path, {"load.duration": "soon"})


def test_resolved_stages_ramp_then_steady():
    scenario = load_scenario(SCENARIOS / "week1-baseline.yaml")
    ramp, steady = scenario.load.resolved_stages()
    assert (ramp.start_rps, ramp.rate_rps, ramp.duration, ramp.judge) == (0, 1000, 10, False)
    assert (steady.rate_rps, steady.duration, steady.judge) == (1000, 60, True)


def test_secret_headers_are_not_in_resolved_yaml(tmp_path):
    path = _write(tmp_path, _minimal(target={"headers": {"Authorization": "Bearer sk-secret"}}))
    text = load_scenario(path).to_yaml()
    assert "sk-secret" not in text and "Authorization" in text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), (15, 15), ("1.5s", 1.5)],
)
def test_durations(text, seconds):
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5 sec", "s", "-1s", "1d", True])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration_s(text)


def test_rate_override_scales_the_accepted_rate_range():
    scenario = load_scenario(SCENARIOS / "week1-baseline.yaml", {"load.rate_rps": 200})
    assert scenario.load.rate_rps == 200
    target = scenario.parsed_targets()["request_rate_rps"]
    assert (target.value, target.high) == (160, 240)
    assert scenario.targets["latency_p95_ms"] == "< 50"  # other targets stay as written
