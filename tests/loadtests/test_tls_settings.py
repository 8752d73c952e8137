"""TLS settings of a target: scenario fields, their check, and the command-line flags."""

from pathlib import Path

import pytest
import yaml

from loadtests.cliargs import build_parser, overrides, paired_overrides
from loadtests.config.scenario import load_scenario
from loadtests.errors import ScenarioError


def _scenario(tmp_path: Path, **target) -> Path:
    path = tmp_path / "s.yaml"
    data = {
        "name": "t",
        "target": {"host": "https://127.0.0.1:8443", **target},
        "requests": [{"kind": "health", "weight": 1, "path": "/health"}],
    }
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_missing_ca_file_is_named_in_one_sentence(tmp_path):
    path = _scenario(tmp_path, ca_file="nowhere/ca.pem")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert "field 'target.ca_file'" in message and "nowhere/ca.pem does not exist" in message
    assert "\n" not in message


def test_verification_is_on_unless_switched_off(tmp_path):
    target = load_scenario(_scenario(tmp_path)).target
    assert (target.ca_file, target.insecure) == (None, False)


def test_run_flags_override_the_scenario(tmp_path, monkeypatch):
    (tmp_path / "ca.pem").write_text("not read here")
    monkeypatch.chdir(tmp_path)
    path = _scenario(tmp_path)
    args = build_parser().parse_args(["run", str(path), "--ca-file", "ca.pem", "--insecure"])
    target = load_scenario(path, overrides(args)).target
    # Absolute, so workers started elsewhere read the same file.
    assert target.ca_file == str(tmp_path / "ca.pem") and target.insecure is True
    plain = build_parser().parse_args(["run", str(path)])
    assert load_scenario(path, overrides(plain)).target.insecure is False


@pytest.mark.parametrize("command", ["overhead", "gateway"])
def test_the_paired_experiments_take_the_same_tls_flags(tmp_path, monkeypatch, command):
    (tmp_path / "ca.pem").write_text("not read here")
    monkeypatch.chdir(tmp_path)
    path = _scenario(tmp_path)
    args = build_parser().parse_args([command, str(path), "--ca-file", "ca.pem", "--insecure"])
    target = load_scenario(path, paired_overrides(args, command)).target
    assert target.ca_file == str(tmp_path / "ca.pem") and target.insecure is True
    plain = build_parser().parse_args([command, str(path)])
    assert load_scenario(path, paired_overrides(plain, command)).target.insecure is False
