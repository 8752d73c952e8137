"""reports/index.html: every run newest first, trends, regressions in the index and the report."""

from __future__ import annotations

import json
from pathlib import Path

from analysis import analyze_run, update_index, write_outputs
from analysis.history.index import build_index_view
from tests.analysis.helpers import S_US, T0_US, metadata, samples, series, steady, write_run

T0_S = T0_US / S_US


def _run(reports: Path, day: int, latency_ms: float, name: str = "week1") -> Path:
    """A stamped run folder under ``reports`` whose requests all take ``latency_ms``."""
    rows = [(T0_S + t, "memory_bytes", 150e6) for t in range(0, 11, 2)]
    rows += [(T0_S + t, "cpu_percent", 40.0) for t in range(0, 11, 2)]
    meta = metadata(started_utc=f"2026-01-{day:02d}T12:00:00+00:00", embedded=True)
    frame = samples(steady(1000), response_us=int(latency_ms * 1000))
    staging = write_run(reports / f".staging-{day}", frame, meta=meta, series_frame=series(rows))
    run_dir = reports / f"202601{day:02d}T120000Z-{name}"
    staging.rename(run_dir)
    (reports / f".staging-{day}").rmdir()
    return run_dir


def _analyze(run_dir: Path) -> list[Path]:
    return write_outputs(run_dir, analyze_run(run_dir, environ={}))


def test_index_lists_runs_newest_first_and_flags_a_regression(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    for day, latency in ((1, 2.0), (2, 2.1), (3, 5.0)):
        written = _analyze(_run(reports, day, latency))
    assert reports / "index.html" in written
    html = (reports / "index.html").read_text()
    order = [html.index(f"202601{d:02d}T120000Z-week1") for d in (3, 2, 1)]
    assert order == sorted(order)
    assert 'href="20260103T120000Z-week1/index.html"' in html
    assert html.count('class="badge regression">REGRESSION') == 1
    assert "P95 5.000 ms vs 2.100 ms (+138 %)" in html
    assert html.count('src="data:image/png;base64,') == 4  # the trends, inside the page
    assert sorted(p.name for p in reports.iterdir()) == [  # nothing but runs and the index
        "20260101T120000Z-week1",
        "20260102T120000Z-week1",
        "20260103T120000Z-week1",
        "index.html",
    ]
    report = (reports / "20260103T120000Z-week1" / "index.html").read_text()
    assert 'id="regressions"' in report and "20260102T120000Z-week1" in report
    assert 'href="../index.html"' in report
    earlier = (reports / "20260102T120000Z-week1" / "index.html").read_text()
    assert 'id="regressions"' not in earlier
    md = (reports / "20260103T120000Z-week1" / "summary.md").read_text()
    assert "### Regressions" in md


def test_update_index_rebuilds_from_files_and_tolerates_broken_runs(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    _analyze(_run(reports, 1, 2.0))
    broken = reports / "20260105T000000Z-week1"
    broken.mkdir()
    (broken / "metadata.json").write_text(json.dumps({"started_utc": "2026-01-05T00:00:00Z"}))
    path = update_index(reports)
    html = path.read_text()
    assert path == reports / "index.html"
    assert "NOT ANALYSED" in html and "no summary.json" in html
    assert html.index("20260105T000000Z-week1") < html.index("20260101T120000Z-week1")
    assert 'href="20260105T000000Z-week1/index.html"' not in html  # it has no report


def test_write_outputs_leaves_the_parent_alone_for_unstamped_folders(tmp_path):
    run_dir = write_run(tmp_path, samples(steady(500)))
    written = _analyze(run_dir)
    assert not (tmp_path / "index.html").exists()
    assert {p.name for p in written} >= {"summary.json", "junit.xml", "summary.md", "index.html"}
    report = (run_dir / "index.html").read_text()
    assert "../index.html" not in report


def test_stale_charts_of_an_earlier_analysis_are_removed(tmp_path):
    run_dir = write_run(tmp_path, samples(steady(500)))
    (run_dir / "charts").mkdir()
    (run_dir / "charts" / "memory.png").write_bytes(b"from an earlier analysis")
    _analyze(run_dir)
    assert not (run_dir / "charts" / "memory.png").exists()
    assert (run_dir / "charts" / "throughput.png").exists()


def test_empty_index_view():
    view = build_index_view([], {}, {})
    assert view["runs"] == [] and view["groups"] == [] and view["regression_count"] == 0
