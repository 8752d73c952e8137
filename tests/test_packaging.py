"""A non-editable install works outside the checkout.

The wheel is built offline from a copy of the project, installed into a folder of its own and
run from an empty folder by a bare interpreter that sees that folder and the development
venv's third-party packages, but nothing of the source tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "loadtests", "analysis", "scenarios")
# The venv holding the third-party packages; on PYTHONPATH it is a plain folder, so its .pth
# files (the editable install's finder of the source tree) are not run.
THIRD_PARTY = list(dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib")))


# Run in the child: import only from the install, then load and render what ships as data.
CHECK = r"""
import json, sys
from importlib.metadata import entry_points
from pathlib import Path

site, repo = Path(sys.argv[1]), Path(sys.argv[2])
assert "" not in sys.path and str(repo) not in sys.path, sys.path
import analysis, loadtests, scenarios, loadtests.cli
for module in (analysis, loadtests, scenarios):
    assert Path(module.__file__).resolve().is_relative_to(site), module.__file__
others = [p for p in sys.path if Path(p).resolve() != site and (Path(p) / "loadtests").exists()]
assert not others, others
assert entry_points(group="console_scripts")["edgeperf"].load() is loadtests.cli.main

from analysis.outputs.templating import environment
from loadtests.config.profiles import resolve_profile
from loadtests.config.scenario import load_scenario
from loadtests.config.shipped import shipped_scenario_names

profiles = {}
for name in shipped_scenario_names():
    profile = resolve_profile(load_scenario(name))
    assert profile.path.resolve().is_relative_to(site), profile.path
    profiles[name] = profile.name
templates = environment().list_templates()
for template in templates:
    environment().get_template(template)
print(json.dumps({"profiles": profiles, "templates": templates}))
"""


@dataclass(frozen=True)
class Installed:
    site: Path
    python: Path
    env: dict[str, str]


def _run(argv: list[str | os.PathLike[str]], **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("packaging")
    # A copy, so the in-tree build/ of setuptools never lands in (or leaks stale files from) the
    # checkout.
    src = root / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", root, src],
        timeout=300,
    )
    (wheel,) = root.glob("edgeperf-*.whl")
    site = root / "site"
    _run([*pip, "install", "--no-deps", "--no-index", "--target", site, wheel], timeout=300)
    # A bare venv (no packages, no .pth), so the harness's own child processes, started with
    # sys.executable, cannot reach the source tree through the development venv either.
    venv.create(root / "venv", with_pip=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONPATH=os.pathsep.join([str(site), *THIRD_PARTY]), PYTHONSAFEPATH="1")
    return Installed(site.resolve(), root / "venv" / "bin" / "python", env)


def _cwd(tmp_path: Path) -> Path:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    return empty


def test_the_install_loads_every_shipped_scenario_profile_and_template(installed, tmp_path):
    argv = [installed.python, "-c", CHECK, installed.site, REPO]
    done = _run(argv, cwd=_cwd(tmp_path), env=installed.env, timeout=120)
    seen = json.loads(done.stdout)
    shipped = sorted(p.stem for p in (REPO / "scenarios").glob("*.yaml"))
    assert sorted(seen["profiles"]) == shipped
    assert seen["profiles"]["health"] == "embedded"
    assert sorted(seen["templates"]) == sorted(
        p.name for p in (REPO / "analysis" / "templates").iterdir()
    )


@pytest.mark.slow  # starts the embedded stack and sends load (~15 s)
def test_the_install_runs_a_shipped_scenario_by_name_from_another_folder(installed, tmp_path):
    out = tmp_path / "out"
    argv = [installed.python, "-m", "loadtests.cli", "run", "health", "--rate", "50"]
    argv += ["--duration", "3s", "--ramp", "0s", "--out", out, "--quiet"]
    done = subprocess.run(
        argv, cwd=_cwd(tmp_path), env=installed.env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode in (0, 1), f"exit {done.returncode}:\n{done.stdout}\n{done.stderr}"
    (summary,) = out.glob("*-health/summary.json")
    assert json.loads(summary.read_text())["scenario"] == "health"
    assert (summary.parent / "index.html").is_file()  # the report, from the installed templates
