"""Gateway vs direct: its settings, and the two arms it hands to the interleaved experiment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from loadtests.config.gateway import REPORTED, GatewaySpec, gateway_experiment
from loadtests.config.scenario import Scenario, load_scenario
from loadtests.config.variants import OverheadSpec, deep_merge, needs_server_side
from loadtests.errors import ScenarioError
from tests.loadtests.conftest import run_cli

SCENARIO = "scenarios/gateway-vs-direct.yaml"
DIRECT, GATEWAY = "http://127.0.0.1:8000", "http://127.0.0.1:8080"


def _arms(spec: GatewaySpec) -> dict[str, Scenario]:
    """Per arm label, the scenario that arm runs (as ``variant_scenario`` merges it, without
    importing the load engine into this unit test's process)."""
    data = load_scenario(SCENARIO).model_dump(mode="json")
    experiment = gateway_experiment(spec)
    variants = (experiment.baseline, experiment.treatment)
    return {
        label: Scenario.model_validate(deep_merge(data, variant.set))
        for label, variant in zip(experiment.labels, variants, strict=True)
    }


def test_on_the_embedded_stack_the_arms_are_its_direct_listener_and_its_gateway():
    arms = _arms(GatewaySpec())
    direct, gateway = arms["direct"], arms["gateway"]
    assert (direct.target.via, direct.target.host) == ("direct", None)
    assert (gateway.target.via, gateway.target.host) == ("gateway", None)
    assert direct.requests == gateway.requests and direct.load == gateway.load  # same workload


def test_on_a_real_stack_the_arms_are_the_two_urls():
    arms = _arms(GatewaySpec(direct=DIRECT + "/", gateway=GATEWAY))
    assert arms["direct"].target.host == DIRECT
    assert arms["gateway"].target.host == GATEWAY


def test_the_experiment_reports_every_figure_judges_only_budgets_and_names_its_arms():
    spec = gateway_experiment(GatewaySpec(pairs=7, budgets={"latency_p95_ms": "5"}))
    assert (spec.kind, spec.labels, spec.pairs) == ("gateway", ("direct", "gateway"), 7)
    assert spec.seed_per_pair  # a real gateway's cache must not hold an earlier pair's prompts
    assert spec.budgets == {"latency_p95_ms": 5.0} and spec.reported == REPORTED
    assert spec.metrics()[0] == "latency_p95_ms" and len(spec.metrics()) == len(REPORTED)
    assert needs_server_side(spec)  # memory and CPU: the embedded Prometheus is started
    assert not needs_server_side(gateway_experiment(GatewaySpec(server_side=False)))


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"direct": DIRECT}, "give both"),
        ({"gateway": GATEWAY}, "give both"),
        ({"direct": DIRECT, "gateway": DIRECT}, "are the same"),
        ({"direct": "127.0.0.1:8000", "gateway": GATEWAY}, "expected a URL"),
        ({"budgets": {"latency_p42_ms": 1}}, "unknown budget metric"),
    ],
)
def test_bad_gateway_settings_are_refused_in_one_sentence(settings, problem):
    with pytest.raises(ValidationError, match=problem):
        GatewaySpec(**settings)


def test_an_overhead_experiment_still_needs_something_to_judge():
    with pytest.raises(ValidationError, match="at least one budget"):
        OverheadSpec()


def test_via_direct_is_the_embedded_stacks_upstream_and_refused_with_a_host():
    with pytest.raises(ScenarioError, match="target.*via: direct"):
        load_scenario(SCENARIO, {"target.via": "direct", "target.host": GATEWAY})


def test_the_cli_refuses_one_url_without_the_other_before_any_load(tmp_path):
    result = run_cli("gateway", SCENARIO, "--direct", DIRECT, "--out", str(tmp_path))
    assert result.returncode == 2
    assert "field 'gateway'" in result.stderr and "give both" in result.stderr
    assert "Traceback" not in result.stderr and not any(tmp_path.iterdir())
