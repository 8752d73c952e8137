"""Chart functions draw onto a given Axes; the composer writes PNGs and keeps no figures."""

from __future__ import annotations

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from analysis.api import chart_inputs
from analysis.charts import (
    ChartInputs,
    plot_latency_over_time,
    plot_throughput,
    render_charts,
)
from analysis.measure import judged_window
from analysis.rundir import load_run
from tests.analysis.helpers import metadata, samples, steady, write_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _inputs(tmp_path) -> ChartInputs:
    run = load_run(write_run(tmp_path, samples(steady(500)), meta=metadata()))
    return chart_inputs(run, judged_window(run.metadata, run.samples))


def test_plot_functions_draw_on_the_given_axes(tmp_path):
    inputs = _inputs(tmp_path)
    fig = Figure()
    ax = fig.add_subplot()
    plot_throughput(ax, inputs.per_second, inputs.target_stages, inputs.window_s)
    assert {line.get_label() for line in ax.get_lines()} == {"achieved (sent)", "target"}
    ax = fig.add_subplot()
    plot_latency_over_time(ax, inputs.per_second)
    assert ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 3


def test_render_charts_writes_pngs_with_captions(tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    rc_before = dict(matplotlib.rcParams)
    files = render_charts(_inputs(tmp_path), tmp_path / "charts")
    assert [f.name for f in files] == ["throughput", "latency", "latency-percentiles"]
    for chart in files:
        assert chart.path.read_bytes().startswith(PNG_MAGIC)
        assert chart.href == f"charts/{chart.name}.png"
        assert chart.caption and chart.title
    assert plt.get_fignums() == before
    assert dict(matplotlib.rcParams) == rc_before
    assert not list((tmp_path / "charts").glob("*.tmp"))


def test_no_data_no_charts(tmp_path):
    empty = pd.DataFrame({"t_s": [], "rate_rps": []})
    inputs = ChartInputs(per_second=empty, target_stages=empty, spectrum=pd.DataFrame())
    assert render_charts(inputs, tmp_path / "charts") == []
