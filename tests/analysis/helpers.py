"""Build small run directories in a temporary folder, one file at a time, for analysis tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from analysis.contract.schema import (
    METADATA_FILE,
    QUERIES_FILE,
    SAMPLE_COLUMNS,
    SAMPLE_DEFAULTS,
    SAMPLES_DIR,
    SCENARIO_FILE,
    SERIES_FILE,
)
from analysis.reading.synthetic import WEEK1_TARGETS

T0_US = 1_700_000_000_000_000
S_US = 1_000_000
# The Week 1 targets, with the rate range scaled to the 100 req/s these small runs use.
TEST_TARGETS = {**WEEK1_TARGETS, "request_rate_rps": "80..120"}


def samples(
    intended_us: Any,
    *,
    sent_us: Any = None,
    done_us: Any = None,
    response_us: Any = None,
    error: Any = "",
    kind: Any = "chat",
    model: Any = "gpt-4o-mini",
) -> pd.DataFrame:
    """A samples frame; ``response_us`` (from intended) is a shortcut for ``done_us``."""
    intended = np.asarray(intended_us, dtype=np.int64)
    n = len(intended)
    sent = intended if sent_us is None else np.asarray(sent_us, dtype=np.int64)
    if done_us is None:
        extra = 1000 if response_us is None else np.asarray(response_us, dtype=np.int64)
        done = intended + extra
    else:
        done = np.asarray(done_us, dtype=np.int64)
    errors = np.broadcast_to(np.asarray(error, dtype=object), (n,))
    return pd.DataFrame(
        {
            "intended_us": intended,
            "sent_us": np.broadcast_to(sent, (n,)),
            "ttfb_us": done - 10,
            "done_us": done,
            "status": np.where(errors == "", 200, 0).astype(np.int32),
            "kind": np.broadcast_to(np.asarray(kind, dtype=object), (n,)),
            "model": np.broadcast_to(np.asarray(model, dtype=object), (n,)),
            "error": errors,
            "bytes": np.full(n, 100, dtype=np.int64),
            "cache": np.full(n, "MISS", dtype=object),
            "worker": np.zeros(n, dtype=np.int32),
        }
    )


def metadata(
    *,
    start_us: int = T0_US,
    judge_start_us: int | None = T0_US,
    judge_end_us: int | None = T0_US + 10 * S_US,
    end_us: int | None = None,
    rate_rps: float = 100.0,
    **extra: Any,
) -> dict[str, Any]:
    """metadata.json content with a judged window; ``extra`` replaces top-level keys."""
    end = end_us if end_us is not None else judge_end_us
    load: dict[str, Any] = {"start_us": start_us, "end_us": end, "rate_rps": rate_rps}
    if judge_start_us is not None:
        load["judge_start_us"] = judge_start_us
    if judge_end_us is not None:
        load["judge_end_us"] = judge_end_us
    meta: dict[str, Any] = {
        "harness_version": "test",
        "outcome": "completed",
        "started_utc": "2023-11-14T22:13:20Z",
        "load": load,
        "generator": {"cpu_s": 1.0, "wall_s": 10.0, "max_concurrency": 100, "cap_waits": 0},
        "notes": [],
    }
    meta.update(extra)
    return meta


def series(rows: list[tuple[float, str, float]], source: str = "prometheus") -> pd.DataFrame:
    """Tidy series rows from (timestamp_s, metric, value)."""
    return pd.DataFrame(
        {
            "timestamp_s": [float(r[0]) for r in rows],
            "metric": [r[1] for r in rows],
            "source": [source] * len(rows),
            "labels": ["{}"] * len(rows),
            "value": [float(r[2]) for r in rows],
        }
    )


def write_run(
    root: Path,
    sample_frame: pd.DataFrame | None = None,
    *,
    meta: dict[str, Any] | None = None,
    targets: dict[str, str] | None = None,
    series_frame: pd.DataFrame | None = None,
    queries: list[dict[str, Any]] | None = None,
    parts: int = 1,
    name: str = "test-scenario",
) -> Path:
    """Write a run directory under ``root/run``; ``parts`` splits the samples over part files."""
    run_dir = root / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    scenario = {"name": name, "targets": TEST_TARGETS if targets is None else targets}
    (run_dir / SCENARIO_FILE).write_text(yaml.safe_dump(scenario), encoding="utf-8")
    (run_dir / METADATA_FILE).write_text(json.dumps(meta or metadata()), encoding="utf-8")
    if sample_frame is not None:
        (run_dir / SAMPLES_DIR).mkdir(exist_ok=True)
        for i, chunk in enumerate(np.array_split(np.arange(len(sample_frame)), parts)):
            frame = sample_frame.iloc[chunk]
            frame = frame.assign(  # list columns left out: the reader fills them
                **{
                    k: v
                    for k, v in SAMPLE_DEFAULTS.items()
                    if k not in frame.columns and not isinstance(v, list)
                }
            )
            frame = frame[[c for c in SAMPLE_COLUMNS if c in frame.columns]]
            table = pa.Table.from_pandas(frame, preserve_index=False)
            pq.write_table(table, run_dir / SAMPLES_DIR / f"part-{i:05d}.parquet")
    if series_frame is not None:
        (run_dir / SERIES_FILE).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.Table.from_pandas(series_frame, preserve_index=False), run_dir / SERIES_FILE
        )
    if queries is not None:
        (run_dir / QUERIES_FILE).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / QUERIES_FILE).write_text(json.dumps(queries), encoding="utf-8")
    return run_dir


def steady(n: int, rate_rps: float = 100.0, start_us: int = T0_US) -> np.ndarray:
    """``n`` intended send times at ``rate_rps`` from ``start_us``."""
    return start_us + (np.arange(n) * (S_US / rate_rps)).astype(np.int64)
