"""A report and the index opened in headless Chromium: what a reader sees, in light and dark mode.

Needs Debian's ``chromium`` (.ci/run installs it). Without it this test fails, saying how to
install it: a skipped browser check would hide a broken report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from analysis import analyze_run, write_outputs
from analysis.outputs.browser import BrowserError, DevTools, chromium, find_chromium, open_page
from tests.analysis.helpers import S_US, T0_US, metadata, samples, series, steady, write_run

HOSTILE = '<script>window.__pwned=true</script>"><img src=x onerror="window.__pwned=true">'
T0_S = T0_US / S_US
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def browser() -> Iterator[DevTools]:
    try:
        binary = find_chromium()
    except BrowserError as exc:
        pytest.fail(str(exc), pytrace=False)
    with chromium(binary) as tools:
        yield tools


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reports folder with one analysed run that has errors, server and OTLP series."""
    root = tmp_path_factory.mktemp("reports")
    n = 2000
    errors = np.array([""] * (n - 40) + ["timeout", HOSTILE] * 20, dtype=object)
    models = np.array([HOSTILE, "gpt-4o-mini"] * (n // 2), dtype=object)
    rows = [(T0_S + t, "memory_bytes", 150e6 + t * 1e6) for t in range(0, 21)]
    rows += [(T0_S + t, "cpu_percent", 40.0 + t) for t in range(0, 21)]
    rows += [(T0_S + t, "otlp_accepted", 10.0 * t) for t in range(0, 21)]
    rows += [(T0_S + t, "otlp_refused", 1.0) for t in range(0, 21)]
    meta = metadata(
        judge_end_us=T0_US + 20 * S_US,
        notes=[HOSTILE],
        started_utc="2026-01-01T00:00:00Z",
        embedded=True,
    )
    frame = samples(steady(n), error=errors, model=models)
    staging = write_run(root / ".staging", frame, meta=meta, series_frame=series(rows))
    run_dir = root / "20260101T000000Z-browser"
    staging.rename(run_dir)
    write_outputs(run_dir, analyze_run(run_dir, environ={}))
    return root


def _assert_clean(check, where: str) -> None:
    assert check.errors == [], f"{where} logged errors: {check.errors}"
    off_disk = [url for url in check.requests if not url.startswith(("file://", "data:"))]
    assert off_disk == [], f"{where} asked the network for {off_disk}"
    assert check.dom["scripts"] == 0 and check.dom["pwned"] is False
    images = check.dom["images"]
    assert images, f"{where} shows no charts"
    broken = [i["src"] for i in images if not (i["loaded"] and i["visible"])]
    assert broken == [], f"{where}: charts not shown: {broken}"


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_report_shows_verdicts_and_charts_without_errors(browser, reports, tmp_path, dark):
    page = reports / "20260101T000000Z-browser" / "index.html"
    shot = tmp_path / "report.png"
    check = open_page(browser, page, dark=dark, screenshot=shot)
    _assert_clean(check, "the report")
    assert check.dom["verdict_table"] is True
    assert check.dom["verdict_rows"] == 8
    drawn = sorted(p.name for p in (page.parent / "charts").glob("*.png"))
    shown = sorted(Path(i["src"]).name for i in check.dom["images"])
    assert shown == drawn and len(drawn) >= 7
    assert check.dom["text"].index("Verdicts") < check.dom["text"].index("Achieved vs target")
    assert HOSTILE in check.dom["text"]  # shown as text, not run as markup
    background = check.dom["background"]
    assert background == ("rgb(13, 17, 23)" if dark else "rgb(255, 255, 255)")
    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 50_000


def test_index_shows_runs_and_trends(browser, reports):
    check = open_page(browser, reports / "index.html")
    _assert_clean(check, "the index")
    assert "20260101T000000Z-browser" in check.dom["text"]
    assert len(check.dom["images"]) == 4


def test_a_missing_chromium_says_how_to_install_it(monkeypatch):
    monkeypatch.delenv("EDGEPERF_CHROMIUM", raising=False)
    with pytest.raises(BrowserError, match=r"apt-get install -y chromium"):
        find_chromium(which=lambda name: None)
