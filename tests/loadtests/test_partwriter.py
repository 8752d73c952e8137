"""Sample parts: converted as chunks arrive, written off the caller by ``offload``, all on close."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow.parquet as pq

from loadtests.recording.samples import COLUMNS, PartWriter


def _chunk(first: int, n: int) -> dict[str, list]:
    row = {"status": 200, "kind": "health", "model": "", "error": "", "cache": "", "worker": 0}
    columns = {
        name: [first + i for i in range(n)] if name not in row else [row[name]] * n
        for name in COLUMNS
    }
    columns["chunk_gaps_us"] = [[first + i] * (i % 3) for i in range(n)]  # 0, 1 or 2 gaps a row
    return columns


class Deferred:
    """An offload that runs nothing until ``get()``, so the test sees what was handed off."""

    def __init__(self) -> None:
        self.handed: list[Callable[[], object]] = []

    def __call__(self, work: Callable[[], object]) -> Deferred.Job:
        self.handed.append(work)
        return Deferred.Job(work)

    class Job:
        def __init__(self, work: Callable[[], object]) -> None:
            self._work = work

        def get(self) -> object:
            return self._work()


def test_full_parts_are_handed_off_and_written_on_close(tmp_path):
    offload = Deferred()
    writer = PartWriter(tmp_path, rows_per_part=1000, offload=offload)
    for second in range(5):
        writer.add(_chunk(second * 600, 600))
    assert len(offload.handed) == 2  # a part each time 1000 rows are buffered, none written yet
    assert not list((tmp_path / "samples").glob("*.parquet"))
    writer.close()
    parts = sorted((tmp_path / "samples").glob("part-*.parquet"))
    assert [p.name for p in parts] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    table = pq.read_table(parts)  # the three parts together: every row once, in order
    assert table.column_names == list(COLUMNS)
    assert table.column("intended_us").to_pylist() == list(range(3000))
    assert table.column("chunk_gaps_us").to_pylist()[:4] == [[], [1], [2, 2], []]
    assert (writer.parts, writer.rows) == (3, 3000)


def test_without_offload_parts_are_written_at_once(tmp_path):
    writer = PartWriter(tmp_path, rows_per_part=100)
    writer.add(_chunk(0, 150))  # a chunk is never split: one part of 150 rows
    assert len(list((tmp_path / "samples").glob("*.parquet"))) == 1
    writer.add(_chunk(150, 50))
    writer.close()
    assert len(list((tmp_path / "samples").glob("*.parquet"))) == 2
