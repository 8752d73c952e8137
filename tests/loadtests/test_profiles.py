"""Metric profiles: the shipped files, the default choice, overrides, and every bad input named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from analysis.contract.schema import SERIES_METRIC_UNITS
from loadtests.config.profiles import (
    default_profile_name,
    load_profile_file,
    resolve_profile,
    with_profile_name,
)
from loadtests.config.scenario import Scenario, load_scenario
from loadtests.config.shipped import shipped_profiles_dir
from loadtests.errors import EXIT_CANNOT_JUDGE, ScenarioError

REQUESTS = [{"kind": "health", "weight": 1, "path": "/health"}]


def _scenario(**extra) -> Scenario:
    return Scenario.model_validate({"name": "t", "requests": REQUESTS, **extra})


def _profile(tmp_path: Path, **changes) -> Path:
    data = {
        "name": "mine",
        "scrape_interval": "1s",
        "metrics": {
            "memory_bytes": {"kind": "gauge", "unit": "bytes", "query": "rss"},
            "otlp_export_success": {"kind": "counter", "unit": "percent", "query": "x[$window]"},
        },
    }
    data.update(changes)
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("name", ["embedded", "edge-agent-compose"])
def test_shipped_profiles_load_and_define_the_judged_metrics(name):
    profile = load_profile_file(shipped_profiles_dir() / f"{name}.yaml")
    # OTLP export success is computed from item counts: the collector's on both stacks.
    judged = {"memory_bytes", "cpu_percent", "otlp_accepted_items", "otlp_refused_items"}
    assert judged <= set(profile.metrics)
    assert {"otlp_bytes_per_s", "agent_request_rate_rps", "cache_hit_percent"} <= set(
        profile.metrics
    )
    for metric, entry in profile.metrics.items():
        assert entry.unit == SERIES_METRIC_UNITS[metric]
    assert profile.metrics["otlp_accepted_items"].kind == "counter"
    assert profile.metrics["memory_bytes"].kind == "gauge"


def test_embedded_profile_counts_the_agents_items_and_compose_only_the_collectors():
    embedded = load_profile_file(shipped_profiles_dir() / "embedded.yaml").metrics
    agent = ("produced", "delivered", "failed", "dropped", "retried")
    for figure in agent:
        query = embedded[f"otlp_{figure}_items"].query
        # Exact deltas of the last scraped values: increase() extrapolates each series its own way.
        assert "offset $window" in query and "increase(" not in query
        assert query.startswith("sum by (signal) (edge_agent_otlp_")
    compose = load_profile_file(shipped_profiles_dir() / "edge-agent-compose.yaml").metrics
    assert not {f"otlp_{figure}_items" for figure in agent} & set(compose)


def test_compose_profile_matches_collector_counters_with_or_without_total():
    query = load_profile_file(shipped_profiles_dir() / "edge-agent-compose.yaml").metrics
    accepted, refused = query["otlp_accepted_items"].query, query["otlp_refused_items"].query
    assert '{__name__=~"otelcol_receiver_accepted_spans(_total)?"' in accepted
    for item in ("log_records", "metric_points"):
        assert f"otelcol_receiver_refused_{item}(_total)?" in refused
    assert "otelcol_exporter_send_failed_spans(_total)?" in query["otlp_forward_success"].query


def test_default_profile_follows_the_stack():
    assert default_profile_name(_scenario()) == "embedded"
    remote = _scenario(target={"host": "http://127.0.0.1:8080"})
    assert default_profile_name(remote) == "edge-agent-compose"
    chosen = _scenario(target={"host": "http://127.0.0.1:8080"}, metrics={"profile": "embedded"})
    assert default_profile_name(chosen) == "embedded"
    assert with_profile_name(remote, "x").metrics.profile == "x"


def test_overrides_replace_single_queries_and_keep_the_kind(tmp_path):
    scenario = _scenario(
        metrics={
            "profile": str(_profile(tmp_path)),
            "queries": {
                "otlp_export_success": "y[$window]",
                "cpu_percent": "rate(cpu[5s]) * 100",
            },
        }
    )
    profile = resolve_profile(scenario)
    assert profile.name == "mine" and profile.settle_s == 2.0
    otlp = profile.queries["otlp_export_success"]
    assert (otlp.kind, otlp.promql, otlp.overridden) == ("counter", "y[$window]", True)
    assert otlp.rendered(73.2) == "y[74s]"
    assert profile.queries["cpu_percent"].kind == "gauge"
    assert profile.queries["cpu_percent"].unit == "%"
    assert not profile.queries["memory_bytes"].overridden


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"metrics": {"disk_bytes": {"kind": "gauge", "unit": "bytes", "query": "d"}}},
         "metrics.disk_bytes", "unknown metric"),
        ({"metrics": {"memory_bytes": {"kind": "gauge", "unit": "MB", "query": "m"}}},
         "metrics.memory_bytes", "unit must be 'bytes'"),
        ({"metrics": {"cpu_percent": {"kind": "counter", "unit": "%", "query": "c[$window]"}}},
         "metrics.cpu_percent", "must be a gauge"),
        ({"metrics": {"cache_hit_percent": {"kind": "counter", "unit": "%", "query": "c[1m]"}}},
         "metrics.cache_hit_percent", "$window"),
        ({"metrics": {"memory_bytes": {"kind": "sometimes", "unit": "bytes", "query": "m"}}},
         "metrics.memory_bytes.kind", "gauge"),
        ({"scrape_interval": "often"}, "scrape_interval", "cannot read duration"),
    ],
)  # fmt: skip
def test_bad_profile_names_file_field_and_problem(tmp_path, changes, field, problem):
    path = _profile(tmp_path, **changes)
    with pytest.raises(ScenarioError) as caught:
        resolve_profile(_scenario(metrics={"profile": str(path)}))
    text = str(caught.value)
    assert str(path) in text and f"field '{field}'" in text and problem in text
    assert caught.value.exit_code == EXIT_CANNOT_JUDGE


def test_missing_profile_lists_the_known_ones():
    with pytest.raises(ScenarioError, match=r"not found .*edge-agent-compose.*embedded"):
        resolve_profile(_scenario(metrics={"profile": "nope"}))


def test_unknown_override_metric_fails_when_the_scenario_loads(tmp_path):
    path = tmp_path / "s.yaml"
    data = {"name": "t", "requests": REQUESTS, "metrics": {"queries": {"mem": "x"}}}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(path) in str(caught.value) and "metrics.queries" in str(caught.value)
    assert "unknown metric(s) ['mem']" in str(caught.value)


def test_override_with_window_on_a_gauge_only_metric_is_refused():
    scenario = _scenario(metrics={"queries": {"memory_bytes": "max_over_time(rss[$window])"}})
    with pytest.raises(ScenarioError, match=r"metrics\.queries\.memory_bytes.*only for counter"):
        resolve_profile(scenario)


def test_process_spec_takes_pid_or_name():
    with pytest.raises(ValueError, match="pid or name"):
        _scenario(metrics={"process": {"pid": 1, "name": "agent"}})
    assert _scenario(metrics={"process": {"name": "agent"}}).metrics.process.name == "agent"
