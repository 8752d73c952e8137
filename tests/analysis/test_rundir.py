"""Reading a run directory: typed columns, derived times, clear errors on bad content."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.contract.schema import METADATA_FILE, SAMPLES_DIR, SCENARIO_FILE
from analysis.reading.errors import RunDirError
from analysis.reading.rundir import load_run
from tests.analysis.helpers import T0_US, metadata, samples, steady, write_run


def test_types_and_derived_columns(tmp_path):
    intended = steady(10)
    frame = samples(intended, sent_us=intended + 3, done_us=intended + 100)
    run = load_run(write_run(tmp_path, frame, parts=3))
    s = run.samples
    assert len(s) == 10 and run.sample_files == 3
    for name in ("intended_us", "sent_us", "done_us", "response_us", "service_us", "lag_us"):
        assert s[name].dtype == np.int64, name
    assert s["status"].dtype == np.int32
    assert all(s[c].dtype == "category" for c in ("kind", "model", "error", "cache"))
    assert (s["response_us"] == 100).all() and (s["service_us"] == 97).all()
    assert (s["lag_us"] == 3).all()
    assert run.name == "test-scenario"
    assert set(run.targets) >= {"latency_p95_ms", "memory_bytes"}


def test_parts_with_other_dictionaries_and_null_strings(tmp_path):
    run_dir = write_run(tmp_path, samples(steady(4), model="a"), parts=2)
    table = pq.read_table(run_dir / SAMPLES_DIR / "part-00001.parquet")
    models = pa.array(["zzz", None], type=pa.large_string())
    table = table.set_column(table.schema.get_field_index("model"), "model", models)
    table = table.set_column(table.schema.get_field_index("worker"), "worker", pa.array([1, 2]))
    pq.write_table(table, run_dir / SAMPLES_DIR / "part-00001.parquet")
    run = load_run(run_dir)
    assert list(run.samples["model"]) == ["a", "a", "zzz", ""]
    assert run.samples["worker"].dtype == np.int32


def test_no_parts_gives_an_empty_typed_frame(tmp_path):
    run = load_run(write_run(tmp_path, None))
    assert len(run.samples) == 0
    assert run.samples["response_us"].dtype == np.int64
    assert not run.has_series and run.queries == ()


def test_missing_run_directory(tmp_path):
    with pytest.raises(RunDirError, match="run directory not found"):
        load_run(tmp_path / "nope")


@pytest.mark.parametrize("missing", [METADATA_FILE, SCENARIO_FILE])
def test_missing_metadata_or_scenario(tmp_path, missing):
    run_dir = write_run(tmp_path, samples(steady(3)))
    (run_dir / missing).unlink()
    with pytest.raises(RunDirError, match=missing.replace(".", r"\.")) as info:
        load_run(run_dir)
    assert "not found" in str(info.value)


def test_bad_json(tmp_path):
    run_dir = write_run(tmp_path, None)
    (run_dir / METADATA_FILE).write_text("{not json")
    with pytest.raises(RunDirError, match="not valid JSON"):
        load_run(run_dir)


def test_wrong_type_in_metadata_names_the_field(tmp_path):
    meta = metadata()
    meta["load"]["judge_start_us"] = "soon"
    with pytest.raises(RunDirError, match=r"field 'load\.judge_start_us'.*expected a number"):
        load_run(write_run(tmp_path, None, meta=meta))


def test_bad_target_names_the_field(tmp_path):
    with pytest.raises(RunDirError, match=r"field 'targets\.latency_p95_ms'"):
        load_run(write_run(tmp_path, None, targets={"latency_p95_ms": "fast please"}))


def test_missing_sample_column(tmp_path):
    run_dir = write_run(tmp_path, samples(steady(3)))
    part = run_dir / SAMPLES_DIR / "part-00000.parquet"
    pq.write_table(pq.read_table(part).drop_columns(["done_us"]), part)
    with pytest.raises(RunDirError, match=r"part-00000\.parquet.*missing column.*done_us"):
        load_run(run_dir)


def test_uncastable_column(tmp_path):
    run_dir = write_run(tmp_path, samples(steady(3)))
    part = run_dir / SAMPLES_DIR / "part-00000.parquet"
    table = pq.read_table(part)
    table = table.set_column(0, "intended_us", pa.array(["a", "b", "c"]))
    pq.write_table(table, part)
    with pytest.raises(RunDirError, match=r"field 'intended_us'"):
        load_run(run_dir)


def test_not_parquet(tmp_path):
    run_dir = write_run(tmp_path, samples(steady(3)))
    (run_dir / SAMPLES_DIR / "part-00001.parquet").write_bytes(b"garbage")
    with pytest.raises(RunDirError, match="not a readable Parquet file"):
        load_run(run_dir)


def test_notes_and_outcome_are_normalised(tmp_path):
    meta = metadata(notes="one note")
    del meta["outcome"]
    run = load_run(write_run(tmp_path, None, meta=meta))
    assert run.metadata["notes"] == ["one note"]
    assert run.metadata["outcome"] == "unknown"


def test_queries_must_be_a_list(tmp_path):
    run_dir = write_run(tmp_path, None, queries=[])
    (run_dir / "prometheus" / "queries.json").write_text(json.dumps({"metric": "x"}))
    with pytest.raises(RunDirError, match="queries.json"):
        load_run(run_dir)


def test_start_times_survive_as_exact_integers(tmp_path):
    run = load_run(write_run(tmp_path, samples([T0_US + 1])))
    assert int(run.samples["intended_us"].iloc[0]) == T0_US + 1
