"""The report's streaming, goodput, proxy overhead and cache sections: shown with data, else not."""

from __future__ import annotations

import yaml

from analysis import analyze_run, write_outputs
from analysis.contract.schema import SCENARIO_FILE
from analysis.outputs.llm_sections import llm_sections
from tests.analysis.helpers import samples, steady, write_run
from tests.analysis.test_streaming import streamed_frame


def test_a_streamed_run_gets_every_section_and_the_chart(tmp_path):
    frame = streamed_frame(200).assign(
        cache=["HIT", "MISS"] * 100, overhead_us=150, upstream_us=2000
    )
    run_dir = write_run(tmp_path, frame, targets={"ttft_p95_ms": "< 2000"})
    scenario = yaml.safe_load((run_dir / SCENARIO_FILE).read_text())
    scenario["slo"] = {"ttft_ms": 500, "itl_ms": 50}
    (run_dir / SCENARIO_FILE).write_text(yaml.safe_dump(scenario))
    analysis = analyze_run(run_dir)
    write_outputs(run_dir, analysis)
    html = (run_dir / "index.html").read_text()
    for anchor in ("streaming", "goodput", "proxy-overhead", "cache-effect", "chart-streaming"):
        assert f'id="{anchor}"' in html, anchor
    assert (run_dir / "charts" / "streaming.png").stat().st_size > 1000
    assert "TTFT from intended send" in html and "inter-token latency" in html
    assert "TTFT P95" in html  # the per-kind tag
    assert "ttft ≤ 500 ms" in html and "goodput" in html
    sections = {s["id"]: s for s in llm_sections(analysis.result.measurements)}
    streaming = sections["streaming"]["tables"][0]["rows"]
    assert streaming[0][:3] == ["TTFT from intended send", "200", "100.000 ms"]


def test_a_plain_run_without_headers_has_none_of_them(tmp_path):
    run_dir = write_run(tmp_path, samples(steady(100)).assign(cache=""), targets={})
    analysis = analyze_run(run_dir)
    write_outputs(run_dir, analysis)
    html = (run_dir / "index.html").read_text()
    for anchor in ("streaming", "goodput", "proxy-overhead", "cache-effect", "chart-streaming"):
        assert f'id="{anchor}"' not in html, anchor
    assert not (run_dir / "charts" / "streaming.png").exists()
    assert "TTFT" not in html
