"""The overhead chart goes through the one composer: one panel per budget, a real PNG."""

import numpy as np
from matplotlib.image import imread

from analysis.outputs.overhead_charts import CHART_FILE, overhead_spec, render_overhead_chart
from analysis.overhead.stats import judge_budget, paired_delta


def _verdict(metric: str, budget: float, deltas: list[float]):
    return judge_budget(
        metric, budget, paired_delta(metric, np.zeros(len(deltas)), np.array(deltas))
    )


def test_one_panel_per_budget_in_one_png(tmp_path):
    one = [_verdict("latency_p95_ms", 5.0, [1.0, 2.0, 3.0, 2.5, 1.5])]
    two = [*one, _verdict("memory_bytes", 150e6, [1e8, 1.2e8, 0.9e8, 1.1e8, 1e8])]
    path = render_overhead_chart(two, tmp_path)
    assert path == tmp_path / CHART_FILE and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tall = imread(path).shape[0]
    (tmp_path / "one").mkdir()
    short = imread(render_overhead_chart(one, tmp_path / "one")).shape[0]
    assert tall > 1.5 * short  # the figure grows a panel per budget
    spec = overhead_spec(two)
    assert spec.panels == 2 and spec.draw is None and spec.draw_panels is not None


def test_no_budgets_no_chart(tmp_path):
    assert render_overhead_chart([], tmp_path) is None
    assert not list(tmp_path.iterdir())
