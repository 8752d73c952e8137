"""Parquet files of a run directory read into the contract's column types."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from analysis.reading.errors import RunDirError

_ARROW_TYPES = {
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "list<int32>": pa.list_(pa.int32()),
}
_DICT_TYPE = pa.dictionary(pa.int32(), pa.string())


def read_parquet(
    path: Path,
    columns: dict[str, tuple[str, str]],
    dictionary: list[str],
    defaults: dict[str, int | list[int]] | None = None,
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
        typed(path, name, table.column(name), dtype, name in dictionary)
        if name in present
        else pa.chunked_array([pa.array([defaults[name]] * table.num_rows, _ARROW_TYPES[dtype])])
        for name, (dtype, _) in columns.items()
    ]
    return pa.table(arrays, names=list(columns))


def typed(
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


__all__ = ["read_parquet", "typed"]
