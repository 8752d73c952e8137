"""The scenarios and metric profiles shipped with edgeperf, wherever it is installed.

They live in the top-level ``scenarios`` package (``scenarios/*.yaml``, ``scenarios/profiles/``)
and are installed as its package data, so they are found through importlib.resources, not
relative to a source checkout: an installed copy works from any directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from loadtests.errors import ScenarioError

SCENARIOS_PACKAGE = "scenarios"
_YAML_SUFFIXES = (".yaml", ".yml")


def shipped_dir() -> Path:
    """The folder holding the shipped scenarios; raise ScenarioError when it is not installed."""
    try:
        root = files(SCENARIOS_PACKAGE)
    except ModuleNotFoundError:
        raise ScenarioError(
            f"the shipped scenarios (package {SCENARIOS_PACKAGE!r}) are not installed; "
            "reinstall edgeperf (pip install .)"
        ) from None
    # A run hands real files to other processes, so a zipped install (no folder) cannot work.
    if not isinstance(root, Path):
        raise ScenarioError(
            f"the shipped scenarios are inside an archive ({root}); install edgeperf unzipped"
        )
    return root


def shipped_profiles_dir() -> Path:
    """The folder of the shipped metric profiles (``<name>.yaml`` each)."""
    return shipped_dir() / "profiles"


def _shipped_files() -> dict[str, Path]:
    """Each shipped scenario's file by its name (the file's stem)."""
    return {p.stem: p for p in sorted(shipped_dir().iterdir()) if p.suffix in _YAML_SUFFIXES}


def shipped_scenario_names() -> list[str]:
    """The shipped scenarios' names, sorted; empty when none are installed."""
    try:
        return sorted(_shipped_files())
    except ScenarioError:
        return []


def shipped_scenario(path: Path) -> Path | None:
    """The shipped file that ``path`` names ("health", "health.yaml" or "scenarios/health.yaml",
    as typed in a checkout), or None when it names none."""
    if path.is_absolute() or path.parent not in (Path("."), Path(SCENARIOS_PACKAGE)):
        return None
    if path.suffix and path.suffix not in _YAML_SUFFIXES:
        return None
    return _shipped_files().get(path.stem)


__all__ = [
    "SCENARIOS_PACKAGE",
    "shipped_dir",
    "shipped_profiles_dir",
    "shipped_scenario",
    "shipped_scenario_names",
]
