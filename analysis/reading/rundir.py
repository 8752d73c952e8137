"""Read a run directory into typed DataFrames: the one place raw files are normalised."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from analysis.contract.schema import (
    METADATA_FILE,
    QUERIES_FILE,
    SAMPLE_COLUMNS,
    SAMPLE_DEFAULTS,
    SAMPLE_PART_GLOB,
    SAMPLES_DIR,
    SCENARIO_FILE,
    SERIES_COLUMNS,
    SERIES_FILE,
)
from analysis.contract.targets import Target, TargetSyntaxError
from analysis.reading.errors import RunDirError

_ARROW_TYPES = {"int64": pa.int64(), "int32": pa.int32(), "float64": pa.float64()}
_STRING_SAMPLE_COLUMNS = [name for name, (dtype, _) in SAMPLE_COLUMNS.items() if dtype == "string"]
_DICT_TYPE = pa.dictionary(pa.int32(), pa.string())
# Derived sample columns, all int64 microseconds.
DERIVED_COLUMNS = ("response_us", "service_us", "lag_us")

_LOAD_INT_KEYS = ("start_us", "end_us", "judge_start_us", "judge_end_us", "workers")
_LOAD_FLOAT_KEYS = ("rate_rps",)
_STAGE_INT_KEYS = ("start_us", "end_us")
_STAGE_FLOAT_KEYS = ("start_rps", "end_rps")
_GENERATOR_INT_KEYS = ("max_concurrency", "cap_waits")
_GENERATOR_FLOAT_KEYS = ("cpu_s", "wall_s")


@dataclass(frozen=True)
class RunData:
    """One run directory, read and typed. Samples carry the derived ``DERIVED_COLUMNS``."""

    run_dir: Path
    samples: pd.DataFrame
    series: pd.DataFrame
    queries: tuple[dict[str, Any], ...]
    metadata: dict[str, Any]
    scenario: dict[str, Any]
    targets: dict[str, Target] = field(default_factory=dict)
    has_series: bool = False
    sample_files: int = 0

    @property
    def name(self) -> str:
        """The scenario name, else the run directory's name."""
        name = self.scenario.get("name")
        return str(name) if name else self.run_dir.name


def load_run(run_dir: Path | str) -> RunData:
    """Read and validate ``run_dir``; raise RunDirError on missing or malformed content."""
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
        samples=_read_samples(parts),
        series=_read_series(series_path) if series_path.exists() else _empty_series(),
        queries=_normalise_queries(queries, run_dir / QUERIES_FILE),
        metadata=metadata,
        scenario=scenario,
        targets=_parse_targets(scenario, run_dir / SCENARIO_FILE),
        has_series=series_path.exists(),
        sample_files=len(parts),
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


def _read_parquet(
    path: Path,
    columns: dict[str, tuple[str, str]],
    dictionary: list[str],
    defaults: dict[str, int] | None = None,
) -> pa.Table:
    defaults = defaults or {}
    try:
        present = set(pq.read_schema(path).names)
    except (OSError, pa.ArrowException) as exc:
        raise RunDirError(path, f"not a readable Parquet file: {exc}") from None
    missing = [name for name in columns if name not in present and name not in defaults]
    if missing:
        raise RunDirError(path, f"missing column(s) {missing}; expected {list(columns)}")
    try:
        wanted = [name for name in columns if name in present]
        table = pq.read_table(path, columns=wanted, read_dictionary=dictionary)
    except (OSError, pa.ArrowException) as exc:
        raise RunDirError(path, f"cannot read Parquet data: {exc}") from None
    arrays = [
        _typed(path, name, table.column(name), dtype, name in dictionary)
        if name in present
        else pa.chunked_array([pa.array([defaults[name]] * table.num_rows, _ARROW_TYPES[dtype])])
        for name, (dtype, _) in columns.items()
    ]
    return pa.table(arrays, names=list(columns))


def _typed(
    path: Path, name: str, column: pa.ChunkedArray, dtype: str, dictionary: bool
) -> pa.ChunkedArray:
    """Cast one column to the contract type; string nulls become "", dictionary-encoded if asked."""
    try:
        if dtype == "string":
            if column.type == _DICT_TYPE and column.null_count == 0:
                return column
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            column = column.cast(pa.string())
            if column.null_count:
                column = column.fill_null("")
            return column.dictionary_encode().cast(_DICT_TYPE) if dictionary else column
        if column.null_count:
            raise RunDirError(path, f"{column.null_count} null value(s) in a {dtype} column", name)
        return column.cast(_ARROW_TYPES[dtype])
    except pa.ArrowException as exc:
        raise RunDirError(path, f"cannot read as {dtype}: {exc}", name) from None


def _read_samples(parts: list[Path]) -> pd.DataFrame:
    """All sample parts as one DataFrame: int64/int32 columns, categorical strings, derived µs."""
    if not parts:
        return _empty_samples()
    tables = [
        _read_parquet(p, SAMPLE_COLUMNS, _STRING_SAMPLE_COLUMNS, SAMPLE_DEFAULTS) for p in parts
    ]
    table = pa.concat_tables(tables)
    del tables
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    return _with_derived(frame)


def _with_derived(frame: pd.DataFrame) -> pd.DataFrame:
    intended = frame["intended_us"].to_numpy()
    sent = frame["sent_us"].to_numpy()
    done = frame["done_us"].to_numpy()
    return frame.assign(response_us=done - intended, service_us=done - sent, lag_us=sent - intended)


def _empty_samples() -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    for name, (dtype, _) in SAMPLE_COLUMNS.items():
        if dtype == "string":
            columns[name] = pd.Series(pd.Categorical([], categories=pd.Index([], dtype="str")))
        else:
            columns[name] = pd.Series([], dtype=dtype)
    for name in DERIVED_COLUMNS:
        columns[name] = pd.Series([], dtype="int64")
    return pd.DataFrame(columns)


def _read_series(path: Path) -> pd.DataFrame:
    return _read_parquet(path, SERIES_COLUMNS, []).to_pandas()


def _empty_series() -> pd.DataFrame:
    return pd.DataFrame(
        {
            name: pd.Series([], dtype="str" if dtype == "string" else dtype)
            for name, (dtype, _) in SERIES_COLUMNS.items()
        }
    )


__all__ = ["DERIVED_COLUMNS", "RunData", "load_run"]
