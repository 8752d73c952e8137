"""Read a run directory into typed DataFrames: the one place raw files are normalised."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from analysis.contract.schema import (
    METADATA_FILE,
    QUERIES_FILE,
    SAMPLE_PART_GLOB,
    SAMPLES_DIR,
    SCENARIO_FILE,
    SERIES_COLUMNS,
    SERIES_FILE,
)
from analysis.contract.targets import Target, TargetSyntaxError
from analysis.reading.errors import RunDirError
from analysis.reading.parquet import read_parquet
from analysis.reading.samples import (
    DERIVED_COLUMNS,
    FrameSamples,
    SampleParts,
    Samples,
    empty_samples,
)

_LOAD_INT_KEYS = ("start_us", "end_us", "judge_start_us", "judge_end_us", "workers")
_LOAD_FLOAT_KEYS = ("rate_rps",)
_STAGE_INT_KEYS = ("start_us", "end_us")
_STAGE_FLOAT_KEYS = ("start_rps", "end_rps")
_GENERATOR_INT_KEYS = ("max_concurrency", "cap_waits")
_GENERATOR_FLOAT_KEYS = ("cpu_s", "wall_s")


@dataclass(frozen=True)
class RunData:
    """One run directory, read and typed. Samples carry the derived ``DERIVED_COLUMNS``.

    ``samples`` is in memory (``load_run``) or empty with ``parts`` reading them from disk part by
    part (``open_run``); measurements read ``sample_source()``, which is either.
    """

    run_dir: Path
    samples: pd.DataFrame
    series: pd.DataFrame
    queries: tuple[dict[str, Any], ...]
    metadata: dict[str, Any]
    scenario: dict[str, Any]
    targets: dict[str, Target] = field(default_factory=dict)
    has_series: bool = False
    sample_files: int = 0
    parts: SampleParts | None = None

    def sample_source(self) -> Samples:
        """The samples as blocks: the parts on disk, else the frame in memory."""
        return self.parts if self.parts is not None else FrameSamples(self.samples)

    @property
    def name(self) -> str:
        """The scenario name, else the run directory's name."""
        name = self.scenario.get("name")
        return str(name) if name else self.run_dir.name


def load_run(run_dir: Path | str) -> RunData:
    """Read and validate ``run_dir`` with every sample in memory; raise RunDirError if it cannot.

    For small runs and tests; ``open_run`` reads runs of any length.
    """
    run = open_run(run_dir)
    assert run.parts is not None
    return replace(run, samples=run.parts.frame(), parts=None)


def open_run(run_dir: Path | str) -> RunData:
    """Read and validate ``run_dir``, leaving the samples on disk to be read part by part."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(run_dir, "run directory not found (expected reports/<stamp>-<scenario>/)")
    scenario = _read_scenario(run_dir / SCENARIO_FILE)
    metadata = _normalise_metadata(_read_json(run_dir / METADATA_FILE, required=True), run_dir)
    parts = sorted((run_dir / SAMPLES_DIR).glob(SAMPLE_PART_GLOB))
    series_path = run_dir / SERIES_FILE
    queries = _read_json(run_dir / QUERIES_FILE, required=False)
    return RunData(
        run_dir=run_dir,
        samples=empty_samples(),
        series=_read_series(series_path) if series_path.exists() else _empty_series(),
        queries=_normalise_queries(queries, run_dir / QUERIES_FILE),
        metadata=metadata,
        scenario=scenario,
        targets=_parse_targets(scenario, run_dir / SCENARIO_FILE),
        has_series=series_path.exists(),
        sample_files=len(parts),
        parts=SampleParts(parts),
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunDirError(path, "file not found; is this a run directory?") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(path, f"cannot read: {exc}") from None


def _read_json(path: Path, *, required: bool) -> Any:
    if not required and not path.exists():
        return None
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise RunDirError(path, f"not valid JSON: {exc}") from None


def _read_scenario(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(_read_text(path))
    except yaml.YAMLError as exc:
        raise RunDirError(path, f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RunDirError(path, "expected a YAML mapping at the top level")
    return data


def _parse_targets(scenario: dict[str, Any], path: Path) -> dict[str, Target]:
    raw = scenario.get("targets") or {}
    if not isinstance(raw, dict):
        raise RunDirError(path, "expected a mapping of metric name to target text", "targets")
    targets: dict[str, Target] = {}
    for metric, text in raw.items():
        try:
            targets[str(metric)] = Target.parse(text)
        except TargetSyntaxError as exc:
            raise RunDirError(path, str(exc), f"targets.{metric}") from None
    return targets


def _number(value: Any, path: Path, name: str, kind: type) -> int | float | None:
    """``value`` as int or float; None stays None; anything else is a RunDirError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RunDirError(path, f"expected a number, got {type(value).__name__} {value!r}", name)
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise RunDirError(path, f"expected an integer, got {value!r}", name)
        return int(value)
    if math.isnan(value):
        return None
    return float(value)


def _numbers(
    data: dict[str, Any], ints: tuple[str, ...], floats: tuple[str, ...], path: Path, prefix: str
) -> dict[str, Any]:
    out = dict(data)
    for key in ints + floats:
        if key in out:
            out[key] = _number(out[key], path, f"{prefix}{key}", int if key in ints else float)
    return out


def _mapping(value: Any, path: Path, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RunDirError(path, f"expected an object, got {type(value).__name__}", name)
    return value


def _normalise_metadata(raw: Any, run_dir: Path) -> dict[str, Any]:
    """Type-check the metadata fields analysis uses; keep every other key as written."""
    path = run_dir / METADATA_FILE
    meta = dict(_mapping(raw, path, "(top level)"))
    load = _numbers(
        _mapping(meta.get("load"), path, "load"), _LOAD_INT_KEYS, _LOAD_FLOAT_KEYS, path, "load."
    )
    stages = load.get("stages") or []
    if not isinstance(stages, list):
        raise RunDirError(path, "expected a list of stages", "load.stages")
    load["stages"] = [
        _numbers(
            _mapping(s, path, f"load.stages[{i}]"),
            _STAGE_INT_KEYS,
            _STAGE_FLOAT_KEYS,
            path,
            f"load.stages[{i}].",
        )
        for i, s in enumerate(stages)
    ]
    meta["load"] = load
    generator = _mapping(meta.get("generator"), path, "generator")
    meta["generator"] = _numbers(
        generator, _GENERATOR_INT_KEYS, _GENERATOR_FLOAT_KEYS, path, "generator."
    )
    notes = meta.get("notes") or []
    if isinstance(notes, str):
        notes = [notes]
    if not isinstance(notes, list) or not all(isinstance(n, str | int | float) for n in notes):
        raise RunDirError(path, "expected a list of strings", "notes")
    meta["notes"] = [str(n) for n in notes]
    meta["outcome"] = str(meta.get("outcome") or "unknown")
    return meta


def _normalise_queries(raw: Any, path: Path) -> tuple[dict[str, Any], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RunDirError(path, f"expected a list of query records, got {type(raw).__name__}")
    return tuple(dict(_mapping(entry, path, f"[{i}]")) for i, entry in enumerate(raw))


def _read_series(path: Path) -> pd.DataFrame:
    return read_parquet(path, SERIES_COLUMNS, []).to_pandas()


def _empty_series() -> pd.DataFrame:
    return pd.DataFrame(
        {
            name: pd.Series([], dtype="str" if dtype == "string" else dtype)
            for name, (dtype, _) in SERIES_COLUMNS.items()
        }
    )


__all__ = ["DERIVED_COLUMNS", "RunData", "load_run", "open_run"]
