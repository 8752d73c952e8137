"""Trace files read into arrays: Mooncake-style JSONL, Azure LLM inference CSV; checked by row.

Both become one ``Trace``: arrival times in microseconds from the first row, input and output
lengths in tokens and, where the file has them, each row's ``hash_ids`` (prefix blocks). A file
that cannot be replayed raises ``TraceFileError`` naming the file, the line and the problem.

- ``mooncake`` (JSONL): one object a line with ``timestamp`` (ms, a number), ``input_length``,
  ``output_length`` and optional ``hash_ids`` (a list of integers: the prompt's blocks).
- ``azure`` (CSV): a header naming ``TIMESTAMP``, ``ContextTokens`` and ``GeneratedTokens`` (any
  order, other columns ignored); timestamps are date-times (``2023-11-16 18:15:46.6805900``).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np

from loadtests.errors import ScenarioError

TraceFormat = Literal["mooncake", "azure"]
AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
MOONCAKE_FIELDS = ("timestamp", "input_length", "output_length")
US_PER_MS = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


class TraceFileError(ScenarioError):
    """A trace file that cannot be replayed: the message names the file, the line and why."""


@dataclass(frozen=True, eq=False)
class Trace:
    """The rows of a trace file, in file order (times ascending).

    ``hash_ids[hash_starts[i]:hash_starts[i + 1]]`` are row i's prefix blocks (none without).
    """

    path: str
    format: TraceFormat
    times_us: np.ndarray  # int64, from the first row's timestamp, non-decreasing
    input_tokens: np.ndarray  # int64, >= 0
    output_tokens: np.ndarray  # int64, >= 0
    hash_starts: np.ndarray  # int64, len(rows) + 1
    hash_ids: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.times_us)

    def blocks(self, row: int) -> np.ndarray:
        return self.hash_ids[self.hash_starts[row] : self.hash_starts[row + 1]]


def detect_format(path: Path, first_line: str) -> TraceFormat:
    """The format by file suffix (.jsonl/.json, .csv), else by the first line's first character."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "mooncake"
    if suffix == ".csv":
        return "azure"
    return "mooncake" if first_line.lstrip().startswith("{") else "azure"


def read_trace(path: str | Path, fmt: str = "auto") -> Trace:
    """Read and check a trace file; raise TraceFileError naming the file, line and problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceFileError(f"trace file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceFileError(f"trace file {path}: cannot be read ({exc})") from None
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if not first:
        raise TraceFileError(f"trace file {path}: is empty; it needs at least one row")
    chosen: TraceFormat = detect_format(path, first) if fmt == "auto" else fmt  # type: ignore[assignment]
    rows = _mooncake_rows(path, lines) if chosen == "mooncake" else _azure_rows(path, lines)
    return _to_trace(path, chosen, rows)


Row = tuple[int, float, int, int, list[int]]  # line, timestamp in µs, input, output, blocks


def _fail(path: Path, line: int, problem: str) -> TraceFileError:
    return TraceFileError(f"trace file {path}, line {line}: {problem}")


def _length(path: Path, line: int, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(path, line, f"{name} must be a whole number of tokens, got {value!r}")
    if value < 0:
        raise _fail(path, line, f"{name} is negative ({value!r}); lengths are tokens, >= 0")
    if value != int(value):
        raise _fail(path, line, f"{name} must be a whole number of tokens, got {value!r}")
    return int(value)


def _mooncake_rows(path: Path, lines: list[str]) -> list[Row]:
    rows: list[Row] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(path, number, f"not a JSON object ({exc.msg})") from None
        if not isinstance(item, dict):
            raise _fail(path, number, "not a JSON object")
        missing = [name for name in MOONCAKE_FIELDS if name not in item]
        if missing:
            raise _fail(path, number, f"missing field(s) {', '.join(missing)}")
        stamp = item["timestamp"]
        if (
            isinstance(stamp, bool)
            or not isinstance(stamp, int | float)
            or not math.isfinite(stamp)
        ):
            raise _fail(path, number, f"timestamp must be a number of milliseconds, got {stamp!r}")
        blocks = item.get("hash_ids") or []
        if not isinstance(blocks, list) or not all(
            isinstance(b, int) and not isinstance(b, bool) for b in blocks
        ):
            raise _fail(path, number, "hash_ids must be a list of integers")
        rows.append(
            (
                number,
                float(stamp) * US_PER_MS,
                _length(path, number, "input_length", item["input_length"]),
                _length(path, number, "output_length", item["output_length"]),
                blocks,
            )
        )
    return rows


def _azure_time_us(path: Path, line: int, text: str) -> float:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _fail(
            path, line, f"TIMESTAMP {text!r} is not a date-time such as 2023-11-16 18:15:46.68"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_US  # exact: a float of epoch seconds rounds at 0.2 µs


def _azure_rows(path: Path, lines: list[str]) -> list[Row]:
    reader = csv.reader(lines)
    header = [name.strip() for name in next(reader)]
    lowered = [name.lower() for name in header]
    missing = [name for name in AZURE_COLUMNS if name.lower() not in lowered]
    if missing:
        raise _fail(path, 1, f"missing column(s) {', '.join(missing)} in the header")
    at = [lowered.index(name.lower()) for name in AZURE_COLUMNS]
    rows: list[Row] = []
    for cells in reader:
        number = reader.line_num
        if not cells or not "".join(cells).strip():
            continue
        if len(cells) <= max(at):
            raise _fail(path, number, f"{len(cells)} column(s), the header has {len(header)}")
        values = []
        for name, index in zip(AZURE_COLUMNS[1:], at[1:], strict=True):
            try:
                value: float = float(cells[index])
            except ValueError:
                raise _fail(path, number, f"{name} {cells[index]!r} is not a number") from None
            values.append(_length(path, number, name, value))
        rows.append((number, _azure_time_us(path, number, cells[at[0]]), *values, []))  # type: ignore[arg-type]
    return rows


def _to_trace(path: Path, fmt: TraceFormat, rows: list[Row]) -> Trace:
    if not rows:
        raise TraceFileError(f"trace file {path}: has no rows, only a header or blank lines")
    previous = -math.inf
    for number, stamp_us, *_ in rows:
        if stamp_us < previous:
            raise _fail(
                path, number, "timestamp is earlier than the row before; sort the file by time"
            )
        previous = stamp_us
    first_us = rows[0][1]
    counts = [len(row[4]) for row in rows]
    starts = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    flat = [block for row in rows for block in row[4]]
    return Trace(
        path=str(path),
        format=fmt,
        times_us=np.array([round(row[1] - first_us) for row in rows], dtype=np.int64),
        input_tokens=np.array([row[2] for row in rows], dtype=np.int64),
        output_tokens=np.array([row[3] for row in rows], dtype=np.int64),
        hash_starts=starts,
        hash_ids=np.array(flat, dtype=np.int64),
    )


__all__ = [
    "AZURE_COLUMNS",
    "MOONCAKE_FIELDS",
    "Trace",
    "TraceFileError",
    "TraceFormat",
    "read_trace",
]
