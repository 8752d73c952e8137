"""deploy/kubernetes: manifests that parse, commands the CLI really takes, parts that fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from loadtests.cliargs import build_parser
from loadtests.config.scenario import load_scenario

KUBE = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"


def _docs() -> dict[tuple[str, str], dict]:
    docs = {}
    for path in sorted(KUBE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), path
            docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def _container(doc: dict) -> dict:
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    return container


def test_the_manifests_hold_the_master_the_workers_and_the_scenario():
    assert {
        ("ConfigMap", "edgeperf-scenario"),
        ("Service", "edgeperf-master"),
        ("Job", "edgeperf-master"),
        ("Job", "edgeperf-workers"),
        ("PersistentVolumeClaim", "edgeperf-reports"),
        ("Pod", "edgeperf-collect"),
    } <= set(_docs())


def test_the_pod_commands_are_the_clis_own_and_fit_together(tmp_path):
    docs = _docs()
    master = build_parser().parse_args(_container(docs[("Job", "edgeperf-master")])["args"])
    worker = build_parser().parse_args(_container(docs[("Job", "edgeperf-workers")])["args"])
    assert master.command == "run" and worker.command == "worker"
    # The workers reach the master through its Service, on the port the master listens on.
    service = docs[("Service", "edgeperf-master")]
    (port,) = service["spec"]["ports"]
    host, master_port = worker.master.rsplit(":", 1)
    assert host == service["metadata"]["name"]
    assert int(master_port) == port["port"]
    assert master.master_bind == f"0.0.0.0:{port['targetPort']}"
    labels = docs[("Job", "edgeperf-master")]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    # The master waits for exactly the workers the worker Job starts.
    workers_job = docs[("Job", "edgeperf-workers")]["spec"]
    assert master.expect_workers == workers_job["parallelism"] == workers_job["completions"]
    # The scenario the master runs is the ConfigMap's, mounted where the command reads it.
    mounts = {m["name"]: m["mountPath"] for m in _container(docs[("Job", "edgeperf-master")])[
        "volumeMounts"]}  # fmt: skip
    volumes = docs[("Job", "edgeperf-master")]["spec"]["template"]["spec"]["volumes"]
    config_volume = next(v for v in volumes if "configMap" in v)
    assert config_volume["configMap"]["name"] == "edgeperf-scenario"
    scenario_path = Path(master.scenario)
    assert scenario_path.parent == Path(mounts[config_volume["name"]])
    data = docs[("ConfigMap", "edgeperf-scenario")]["data"]
    (tmp_path / scenario_path.name).write_text(data[scenario_path.name])
    scenario = load_scenario(tmp_path / scenario_path.name)
    assert scenario.target.host and scenario.target.host.startswith("http://")
    # The run directory goes to the volume the collect pod reads.
    assert str(master.out) == mounts["reports"]


@pytest.mark.parametrize("name", ["edgeperf-master", "edgeperf-workers"])
def test_jobs_do_not_restart_a_failed_run(name):
    job = _docs()[("Job", name)]["spec"]
    assert job["backoffLimit"] == 0
    assert job["template"]["spec"]["restartPolicy"] == "Never"
