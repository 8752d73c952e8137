"""Request samples on their way to disk: columnar chunks, parquet parts, live progress figures."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.contract.atomic import write_atomic
from analysis.contract.schema import SAMPLE_COLUMNS, SAMPLES_DIR

COLUMNS = tuple(SAMPLE_COLUMNS)
Columns = dict[str, list[Any]]

_ARROW_TYPES = {
    "int64": pa.int64(),
    "int32": pa.int32(),
    "string": pa.string(),
    "list<int32>": pa.list_(pa.int32()),
}
ARROW_SCHEMA = pa.schema(
    [(name, _ARROW_TYPES[dtype]) for name, (dtype, _) in SAMPLE_COLUMNS.items()]
)


class Pending(Protocol):
    """A write handed off the event loop; ``get()`` waits for it and raises its error."""

    def get(self) -> object: ...


Offload = Callable[[Callable[[], object]], Pending]


class _Done:
    """A write already done (no offload): ``get()`` gives its result."""

    def __init__(self, work: Callable[[], object]) -> None:
        self._value = work()

    def get(self) -> object:
        return self._value


class PartWriter:
    """Appends column chunks and writes a parquet part every ``rows_per_part`` rows.

    Memory stays bounded by one part; each part is written to a temporary name and renamed, so
    a crash leaves only whole parts behind. Each chunk becomes Arrow arrays when it is added (about
    1 ms a thousand rows), so a full part only needs compressing and writing, which ``offload``
    runs away from the caller (the generator's event loop: a part written there paused the
    sending for about 55 ms, more on a busy machine); ``close()`` waits for every write. By
    default parts are written in the caller's thread.
    """

    def __init__(
        self, run_dir: Path, rows_per_part: int = 50_000, offload: Offload | None = None
    ) -> None:
        self._dir = run_dir / SAMPLES_DIR
        self._dir.mkdir(parents=True, exist_ok=True)
        self._rows_per_part = rows_per_part
        self._offload: Offload = offload or _Done
        self._batches: list[pa.RecordBatch] = []
        self._pending: list[Pending] = []
        self._buffered = 0
        self.parts = 0
        self.rows = 0
        # pyarrow's first conversion may import pandas (a few hundred ms): here, not mid-run.
        pa.array([], type=pa.int64())

    def add(self, columns: Columns) -> None:
        n = len(columns["intended_us"])
        if n == 0:
            return
        # The system allocator: pyarrow's default (mimalloc) maps a new segment now and then,
        # a 5-10 ms hiccup on the event loop (about 13 s into a 1000 req/s run).
        pool = pa.system_memory_pool()
        arrays = [pa.array(columns[f.name], type=f.type, memory_pool=pool) for f in ARROW_SCHEMA]
        self._batches.append(pa.RecordBatch.from_arrays(arrays, schema=ARROW_SCHEMA))
        self._buffered += n
        if self._buffered >= self._rows_per_part:
            self.flush()

    def flush(self) -> None:
        if not self._buffered:
            return
        table = pa.Table.from_batches(self._batches, schema=ARROW_SCHEMA)
        final = self._dir / f"part-{self.parts:05d}.parquet"

        def write() -> Path:
            # No fsync: a whole file is what matters.
            return write_atomic(
                final, lambda out: pq.write_table(table, out, compression="zstd"), durable=False
            )

        self._pending.append(self._offload(write))
        self.parts += 1
        self.rows += self._buffered
        self._batches, self._buffered = [], 0

    def close(self) -> None:
        """Write what is buffered and wait for every part to be on disk (raises a write's error)."""
        self.flush()
        pending, self._pending = self._pending, []
        for job in pending:
            job.get()


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


__all__ = ["ARROW_SCHEMA", "COLUMNS", "Columns", "LiveStats", "Offload", "PartWriter", "Pending"]
