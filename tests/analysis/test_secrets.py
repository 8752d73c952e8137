"""Hostile strings from the target are escaped everywhere; secrets reach no output file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml

from analysis import analyze_run, write_outputs
from analysis.outputs.redact import REDACTED, Redactor, env_secrets
from tests.analysis.helpers import (
    S_US,
    T0_US,
    TEST_TARGETS,
    metadata,
    samples,
    series,
    steady,
    write_run,
)

SECRET = "sk-live-PLANTED0123456789abcdef"
URL_PASSWORD = "hunter2-PLANTED"
SCRIPT = "<script>window.__pwned=true</script>"
ATTRIBUTE = '"><img src=x onerror="window.__pwned=true">'
HOSTILE = (SCRIPT, ATTRIBUTE)
ENV = {"EDGE_AGENT_API_KEY": SECRET, "HOME": "/root", "PATH": "/usr/bin"}
INPUTS = ("scenario.yaml", "metadata.json", "samples", "prometheus")
T0_S = T0_US / S_US


def _hostile_run(root: Path, *, leaky_writer: bool) -> Path:
    """A stamped run folder whose every target-supplied string is hostile.

    ``leaky_writer`` also plants the secret where a buggy writer could have left it (scenario
    headers and description, metadata notes and URLs, query errors); otherwise the scenario's
    headers are redacted as the writer does and the secret lives only in the environment.
    """
    n = 1000
    leak = SECRET if leaky_writer else "no-secret-here"
    models = np.array([SCRIPT, ATTRIBUTE, "gpt-4o-mini", "$\\alpha$"] * (n // 4), dtype=object)
    errors = np.array([""] * (n - 3) + [SCRIPT, ATTRIBUTE, f"HTTP 401: bad key {leak}"])
    kinds = np.array(["chat"] * (n - 1) + ["_nolegend_"], dtype=object)
    frame = samples(steady(n), model=models, error=errors, kind=kinds)
    frame["cache"] = np.array(["HIT", SCRIPT] * (n // 2), dtype=object)
    password = URL_PASSWORD if leaky_writer else "pw"
    meta = metadata(
        notes=[f"note {SCRIPT}", f"upstream said Authorization: Bearer {leak}"],
        target=f"http://admin:{password}@127.0.0.1:8080/{ATTRIBUTE}",
        host=SCRIPT,
        started_utc="2026-01-01T00:00:00Z",
    )
    if leaky_writer:
        meta["prometheus_url"] = f"http://127.0.0.1:9090/?token={SECRET}"
    rows = [(T0_S + t, "memory_bytes", 1e8) for t in range(0, 11, 2)]
    rows += [(T0_S + t, "otlp_accepted", 5.0) for t in range(0, 11, 2)]
    prom = series(rows)
    prom.loc[prom["metric"] == "otlp_accepted", "labels"] = json.dumps({"receiver": SCRIPT})
    queries = [
        {"metric": "memory_bytes", "source": "prometheus", "query": f"up{{x='{SCRIPT}'}}",
         "status": "ok", "error": None},
        {"metric": "cpu_percent", "source": "prometheus", "query": "rate(x[5s])",
         "status": "error", "error": f"401 {ATTRIBUTE} key={SECRET}" if leaky_writer else SCRIPT},
    ]  # fmt: skip
    staging = write_run(root / ".staging", frame, meta=meta, series_frame=prom, queries=queries)
    headers = {"Authorization": SECRET if leaky_writer else REDACTED}
    scenario = {
        "name": f"hostile {SCRIPT}",
        "description": f"uses {SECRET}" if leaky_writer else "plain",
        "target": {"host": None, "headers": headers},
        "targets": TEST_TARGETS,
    }
    (staging / "scenario.yaml").write_text(yaml.safe_dump(scenario), encoding="utf-8")
    run_dir = root / "20260101T000000Z-hostile"
    staging.rename(run_dir)
    return run_dir


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _assert_only_our_markup(html: str, path: Path) -> None:
    """No script, no event handler, images only from our chart folder or inline PNGs."""
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag != "script", path
        assert not [name for name in attrs if name.startswith("on")], (path, tag, attrs)
        if tag == "img":
            src = str(attrs.get("src"))
            assert src.startswith(("charts/", "data:image/png;base64,")), (path, src[:80])


def _outputs(reports: Path, run_dir: Path) -> list[Path]:
    """Every file the analysis wrote (the run's inputs excluded)."""
    inputs = [run_dir / name for name in INPUTS]
    return [
        path
        for path in reports.rglob("*")
        if path.is_file() and not any(path == i or i in path.parents for i in inputs)
    ]


@pytest.mark.parametrize(
    ("leaky_writer", "environ"),
    [(False, ENV), (True, ENV), (True, {})],
    ids=["redacted-writer", "leaky-writer", "leaky-writer-secret-not-in-env"],
)
def test_no_secret_and_no_raw_hostile_markup_in_any_output(tmp_path, leaky_writer, environ):
    reports = tmp_path / "reports"
    reports.mkdir()
    run_dir = _hostile_run(reports, leaky_writer=leaky_writer)
    written = write_outputs(run_dir, analyze_run(run_dir, environ=environ))
    outputs = _outputs(reports, run_dir)
    assert set(written) <= set(outputs)
    names = {p.name for p in outputs}
    assert {"summary.json", "junit.xml", "summary.md", "index.html"} <= names
    assert any(p.suffix == ".png" for p in outputs)
    checked = outputs if leaky_writer else [p for p in reports.rglob("*") if p.is_file()]
    for path in checked:
        data = path.read_bytes()
        assert SECRET.encode() not in data, path
        assert URL_PASSWORD.encode() not in data, path
    for path in outputs:
        if path.suffix in (".html", ".md", ".xml"):
            text = path.read_text(encoding="utf-8")
            for hostile in HOSTILE:
                assert hostile not in text, (path, hostile)
        if path.suffix == ".html":
            _assert_only_our_markup(path.read_text(encoding="utf-8"), path)
        elif path.suffix == ".xml":
            tags = {element.tag for element in ET.fromstring(path.read_bytes()).iter()}
            assert tags <= {"testsuites", "testsuite", "testcase", "failure", "error", "system-out"}
        elif path.suffix == ".md":
            assert "<" not in path.read_text(encoding="utf-8"), path
    report = (run_dir / "index.html").read_text()
    assert "&lt;script&gt;window.__pwned=true&lt;/script&gt;" in report
    assert REDACTED.replace("<", "&lt;").replace(">", "&gt;") in report  # the redacted URL


def test_redactor_patterns_and_env():
    secrets = env_secrets({"OPENAI_API_KEY": "abcdefgh12345", "LANG": "C.UTF-8", "TOKEN": "x"})
    assert secrets == frozenset({"abcdefgh12345"})
    redact = Redactor(secrets).text
    assert redact("key abcdefgh12345 used") == f"key {REDACTED} used"
    assert redact("Authorization: Bearer eyJhbGciOi.xyz") == f"Authorization: {REDACTED}"
    assert redact("x-api-key=abc123def") == f"x-api-key={REDACTED}"
    assert redact("curl https://u:p4ss@host/x") == f"curl https://{REDACTED}@host/x"
    assert redact(f"Authorization: {REDACTED}") == f"Authorization: {REDACTED}"
    assert redact("P95 latency in rate(x[5s]) max_tokens: 64") == (
        "P95 latency in rate(x[5s]) max_tokens: 64"
    )
    data = Redactor(secrets).data({"a": ["abcdefgh12345", 1, None], "abcdefgh12345": 2.0})
    assert data == {"a": [REDACTED, 1, None], REDACTED: 2.0}
