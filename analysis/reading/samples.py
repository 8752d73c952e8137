"""Request samples read part by part, so a run of any length is measured in bounded memory.

``SampleParts`` leaves the parquet parts on disk and hands them out as typed DataFrames (the
contract's columns plus the derived ``DERIVED_COLUMNS``): ``ordered()`` in intended send order,
``chunks()`` in any order. ``FrameSamples`` gives the same interface over a frame in memory.

Ordered blocks: parts are written as requests finish, so part ``i`` holds requests intended
before the parts after it, except those still in flight when it was written. A row is handed out
once no later part can hold an earlier intended time (the smallest ``intended_us`` of the parts
still unread); the rest waits for the next part. Memory is one part plus the requests in flight
(about rate × the longest request), and rows come out exactly as a stable sort of all parts
concatenated in name order would give them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.contract.schema import SAMPLE_COLUMNS, SAMPLE_DEFAULTS
from analysis.reading.errors import RunDirError
from analysis.reading.parquet import read_parquet

STRING_SAMPLE_COLUMNS = [name for name, (dtype, _) in SAMPLE_COLUMNS.items() if dtype == "string"]
# Derived sample columns, all int64 microseconds.
DERIVED_COLUMNS = ("response_us", "service_us", "lag_us")


@dataclass(frozen=True)
class SampleSpan:
    """How many samples a run holds and its first and last intended send time (epoch µs)."""

    rows: int = 0
    first_intended_us: int | None = None
    last_intended_us: int | None = None


def read_part(path: Path) -> pa.Table:
    """One sample part in the contract's types (absent newer columns filled with defaults)."""
    return read_parquet(path, SAMPLE_COLUMNS, STRING_SAMPLE_COLUMNS, SAMPLE_DEFAULTS)


def _arrow_lists(arrow_type: pa.DataType) -> pd.ArrowDtype | None:
    # List columns stay Arrow arrays in the frame: no Python object a row.
    return pd.ArrowDtype(arrow_type) if pa.types.is_list(arrow_type) else None


def to_frame(table: pa.Table) -> pd.DataFrame:
    """int64/int32 columns, categorical strings, Arrow-backed lists and the derived µs columns."""
    frame = table.to_pandas(split_blocks=True, self_destruct=True, types_mapper=_arrow_lists)
    return with_derived(frame)


def with_derived(frame: pd.DataFrame) -> pd.DataFrame:
    intended = frame["intended_us"].to_numpy()
    sent = frame["sent_us"].to_numpy()
    done = frame["done_us"].to_numpy()
    return frame.assign(response_us=done - intended, service_us=done - sent, lag_us=sent - intended)


def empty_samples() -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    for name, (dtype, _) in SAMPLE_COLUMNS.items():
        if dtype == "string":
            columns[name] = pd.Series(pd.Categorical([], categories=pd.Index([], dtype="str")))
        elif dtype.startswith("list"):
            columns[name] = pd.Series([], dtype=pd.ArrowDtype(pa.list_(pa.int32())))
        else:
            columns[name] = pd.Series([], dtype=dtype)
    for name in DERIVED_COLUMNS:
        columns[name] = pd.Series([], dtype="int64")
    return pd.DataFrame(columns)


def _intended(path: Path) -> np.ndarray:
    try:
        table = pq.read_table(path, columns=["intended_us"])
    except (OSError, pa.ArrowException) as exc:
        raise RunDirError(path, f"cannot read Parquet data: {exc}") from None
    return table.column(0).to_numpy().astype(np.int64, copy=False)


class SampleParts:
    """The sample parts of a run directory, read when asked (see the module's docstring)."""

    def __init__(self, parts: list[Path]) -> None:
        self.parts = tuple(parts)

    @cached_property
    def _bounds(self) -> list[tuple[int, int, int]]:
        """(rows, smallest, largest intended_us) of each part; (0, 0, 0) when empty."""
        out = []
        for path in self.parts:
            intended = _intended(path)
            if len(intended):
                out.append((len(intended), int(intended.min()), int(intended.max())))
            else:
                out.append((0, 0, 0))
        return out

    def span(self) -> SampleSpan:
        filled = [b for b in self._bounds if b[0]]
        if not filled:
            return SampleSpan()
        rows = sum(b[0] for b in filled)
        return SampleSpan(rows, min(b[1] for b in filled), max(b[2] for b in filled))

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Each part as a typed frame, in name order."""
        for path in self.parts:
            yield to_frame(read_part(path))

    def ordered(self) -> Iterator[pd.DataFrame]:
        """Blocks of samples in ascending ``intended_us`` (stable across parts)."""
        bounds = self._bounds
        later_min = [np.iinfo(np.int64).max] * (len(bounds) + 1)
        for i in range(len(bounds) - 1, -1, -1):
            first = bounds[i][1] if bounds[i][0] else np.iinfo(np.int64).max
            later_min[i] = min(later_min[i + 1], first)
        waiting: pa.Table | None = None
        for i, path in enumerate(self.parts):
            table = read_part(path)
            if waiting is not None:
                table = pa.concat_tables([waiting, table])
            intended = table.column("intended_us").to_numpy()
            order = np.argsort(intended, kind="stable")
            ready = int(np.searchsorted(intended[order], later_min[i + 1], side="left"))
            if ready:
                yield to_frame(table.take(pa.array(order[:ready])))
            waiting = table.take(pa.array(order[ready:])) if ready < len(order) else None
        if waiting is not None and waiting.num_rows:
            yield to_frame(waiting)

    def frame(self) -> pd.DataFrame:
        """Every sample in memory (small runs and tests)."""
        if not self.parts:
            return empty_samples()
        table = pa.concat_tables([read_part(p) for p in self.parts])
        return to_frame(table)


class FrameSamples:
    """Samples already in memory, with the interface of ``SampleParts``."""

    def __init__(self, samples: pd.DataFrame) -> None:
        self.samples = samples

    def span(self) -> SampleSpan:
        if not len(self.samples):
            return SampleSpan()
        intended = self.samples["intended_us"].to_numpy()
        return SampleSpan(len(intended), int(intended.min()), int(intended.max()))

    def chunks(self) -> Iterator[pd.DataFrame]:
        if len(self.samples):
            yield self.samples

    def ordered(self) -> Iterator[pd.DataFrame]:
        if len(self.samples):
            yield self.samples.sort_values("intended_us", kind="stable")

    def frame(self) -> pd.DataFrame:
        return self.samples


Samples = SampleParts | FrameSamples

__all__ = [
    "DERIVED_COLUMNS",
    "FrameSamples",
    "SampleParts",
    "SampleSpan",
    "Samples",
    "empty_samples",
    "read_part",
    "to_frame",
    "with_derived",
]
