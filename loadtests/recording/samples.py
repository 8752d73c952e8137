"""Request samples on their way to disk: columnar chunks, parquet parts, live progress figures."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.contract.atomic import write_atomic
from analysis.contract.schema import SAMPLE_COLUMNS, SAMPLES_DIR

COLUMNS = tuple(SAMPLE_COLUMNS)
Columns = dict[str, list[Any]]

_ARROW_TYPES = {"int64": pa.int64(), "int32": pa.int32(), "string": pa.string()}
ARROW_SCHEMA = pa.schema(
    [(name, _ARROW_TYPES[dtype]) for name, (dtype, _) in SAMPLE_COLUMNS.items()]
)


class PartWriter:
    """Appends column chunks and writes a parquet part every ``rows_per_part`` rows.

    Memory stays bounded by one part; each part is written to a temporary name and renamed, so
    a crash leaves only whole parts behind.
    """

    def __init__(self, run_dir: Path, rows_per_part: int = 50_000) -> None:
        self._dir = run_dir / SAMPLES_DIR
        self._dir.mkdir(parents=True, exist_ok=True)
        self._rows_per_part = rows_per_part
        self._chunks: list[Columns] = []
        self._buffered = 0
        self.parts = 0
        self.rows = 0

    def add(self, columns: Columns) -> None:
        n = len(columns["intended_us"])
        if n == 0:
            return
        self._chunks.append(columns)
        self._buffered += n
        if self._buffered >= self._rows_per_part:
            self.flush()

    def flush(self) -> None:
        if not self._buffered:
            return
        arrays = [
            pa.array([v for chunk in self._chunks for v in chunk[name]], type=field.type)
            for name, field in zip(COLUMNS, ARROW_SCHEMA, strict=True)
        ]
        table = pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)
        final = self._dir / f"part-{self.parts:05d}.parquet"
        # No fsync: parts are written on the generator's loop, and a whole file is what matters.
        write_atomic(
            final, lambda handle: pq.write_table(table, handle, compression="zstd"), durable=False
        )
        self.parts += 1
        self.rows += self._buffered
        self._chunks, self._buffered = [], 0

    def close(self) -> None:
        self.flush()


class LiveStats:
    """Running figures for the progress line: totals and the last few seconds' latencies."""

    def __init__(self, window_s: float = 5.0) -> None:
        self._window_us = int(window_s * 1e6)
        self.requests = 0
        self.errors = 0
        self._recent: deque[tuple[int, np.ndarray, np.ndarray]] = deque()

    def add(self, columns: Columns) -> None:
        done = np.asarray(columns["done_us"], dtype=np.int64)
        if not len(done):
            return
        response = done - np.asarray(columns["intended_us"], dtype=np.int64)
        self.requests += len(done)
        self.errors += sum(1 for e in columns["error"] if e)
        self._recent.append((int(done.max()), done, response))
        horizon = int(done.max()) - self._window_us
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()

    def recent_rate_rps(self) -> float:
        if not self._recent:
            return 0.0
        done = np.concatenate([d for _, d, _ in self._recent])
        newest = int(done.max())
        recent = done[done > newest - self._window_us]
        span_s = (newest - int(recent.min())) / 1e6
        return (len(recent) - 1) / span_s if span_s > 0 else 0.0

    def recent_p95_ms(self) -> float:
        if not self._recent:
            return float("nan")
        response = np.concatenate([r for _, _, r in self._recent])
        return float(np.percentile(response, 95, method="inverted_cdf")) / 1000.0


__all__ = ["ARROW_SCHEMA", "COLUMNS", "Columns", "LiveStats", "PartWriter"]
