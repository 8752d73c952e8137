"""Chart functions draw onto a given Axes; the composer writes PNGs, tables and keeps no figures."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.api import chart_inputs
from analysis.contract.targets import Target
from analysis.measuring.client import judged_window
from analysis.outputs.chartdata import ChartInputs, otlp_series, unit_of
from analysis.outputs.charts import chart_specs, render_charts
from analysis.outputs.plots import (
    nines_label,
    plot_errors_over_time,
    plot_latency_over_time,
    plot_latency_spectrum,
    plot_server_metric,
    plot_throughput,
    safe_label,
)
from analysis.reading.rundir import load_run
from tests.analysis.helpers import S_US, T0_US, metadata, samples, series, steady, write_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T0_S = T0_US / S_US


def _inputs(tmp_path, **kwargs) -> ChartInputs:
    run = load_run(write_run(tmp_path, meta=metadata(), **kwargs))
    return chart_inputs(run, judged_window(run.metadata, run.samples))


def _server_rows():
    rows = [(T0_S + t, "memory_bytes", 150e6 + t * 1e6) for t in range(0, 11)]
    rows += [(T0_S + t, "cpu_percent", 40.0) for t in range(0, 11)]
    rows += [(T0_S + t, "otlp_export_success", 99.99) for t in range(0, 11)]
    rows += [(T0_S + t, "otlp_accepted", 100.0 * t) for t in range(0, 11)]
    rows += [(T0_S + t, "otlp_refused", 1.0) for t in range(0, 11)]
    rows += [(T0_S + t, "otlp_bytes_per_s", 5e3) for t in range(0, 11)]
    return series(rows)


def test_plot_functions_draw_on_the_given_axes(tmp_path):
    inputs = _inputs(tmp_path, sample_frame=samples(steady(500)))
    fig = Figure()
    ax = fig.add_subplot()
    plot_throughput(ax, inputs.per_second, inputs.target_stages, inputs.window_s)
    assert {line.get_label() for line in ax.get_lines()} == {"achieved (sent)", "target"}
    ax = fig.add_subplot()
    plot_latency_over_time(ax, inputs.per_second)
    assert ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 3
    ax = fig.add_subplot()
    plot_latency_spectrum(ax, inputs.spectrum)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["response time (from intended send)", "service time (from actual send)"]
    assert [t.get_text() for t in ax.get_xticklabels()][:3] == ["0%", "90%", "99%"]


def test_nines_axis_labels():
    assert [nines_label(n) for n in (0, 1, 2, 3, 4)] == ["0%", "90%", "99%", "99.9%", "99.99%"]


def test_spectrum_marks_exact_percentiles(tmp_path):
    response = np.arange(1, 1001) * 1000  # 1 .. 1000 ms
    inputs = _inputs(tmp_path, sample_frame=samples(steady(1000), response_us=response))
    marked = inputs.spectrum[inputs.spectrum["marked"]]
    by_pct = dict(zip(marked["percentile"].round(6), marked["response_ms"], strict=True))
    assert by_pct[50.0] == 500.0 and by_pct[95.0] == 950.0 and by_pct[99.0] == 990.0
    assert by_pct[100.0] == 1000.0


def test_target_line_drawn_when_it_fits_and_named_when_far(tmp_path):
    points = pd.DataFrame({"t_s": [0.0, 1.0], "value": [40.0, 60.0]})
    fig = Figure()
    ax = fig.add_subplot()
    plot_server_metric(ax, points, "CPU", target=Target.parse("< 200"))
    assert any(line.get_label() == "target < 200" for line in ax.get_lines())
    ax = fig.add_subplot()
    plot_server_metric(ax, points, "memory (MB)", target=Target.parse("< 2GB"), scale=1e-6)
    far = [line for line in ax.get_lines() if line.get_label().startswith("target")]
    assert len(far) == 1 and "off the chart" in far[0].get_label()
    assert len(far[0].get_xdata()) == 0  # named in the legend, not drawn


def test_errors_chart_stacks_kind_and_class(tmp_path):
    errors = np.array(["", "timeout", "", "HTTP 503"] * 250, dtype=object)
    kinds = np.array(["chat", "chat", "health", "health"] * 250, dtype=object)
    inputs = _inputs(tmp_path, sample_frame=samples(steady(1000), error=errors, kind=kinds))
    assert set(inputs.errors.columns) == {"t_s", "chat: timeout", "health: HTTP 503"}
    assert int(inputs.errors["chat: timeout"].sum()) == 250
    fig = Figure()
    ax = fig.add_subplot()
    plot_errors_over_time(ax, inputs.errors)
    # one stepped area a series (not a bar a second), the second stacked on the first
    assert len(ax.collections) == 2 and not ax.patches
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "chat: timeout",
        "health: HTTP 503",
    ]
    assert ax.get_ylim()[1] >= 50  # 25 + 25 failed requests a second


def test_render_charts_writes_pngs_captions_and_tables(tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    rc_before = dict(matplotlib.rcParams)
    inputs = _inputs(tmp_path, sample_frame=samples(steady(1000)), series_frame=_server_rows())
    files = render_charts(inputs, tmp_path / "charts")
    drawn = [f.name for f in files if f.path]
    assert drawn == [
        "throughput",
        "latency",
        "latency-percentiles",
        "memory",
        "cpu",
        "otlp",
        "otlp-series",
        "otlp-series-2",
    ]
    assert [f.name for f in files if not f.path] == ["errors"]
    for chart in files:
        assert chart.caption or chart.skipped
        if chart.path:
            assert chart.path.read_bytes().startswith(PNG_MAGIC)
            assert chart.href == f"charts/{chart.name}.png"
            assert chart.table is not None and chart.table.rows
    assert plt.get_fignums() == before
    assert dict(matplotlib.rcParams) == rc_before
    assert not list((tmp_path / "charts").glob("*.tmp"))
    otlp = {f.name: f for f in files}["otlp-series"]
    assert otlp.title.startswith("OTLP accepted vs refused")
    assert otlp.table is not None and otlp.table.head == ["t (s)", "otlp_accepted", "otlp_refused"]


def test_otlp_series_are_whatever_exists():
    frame = series(
        [(10.0, "otlp_accepted", 5.0), (10.0, "otlp_refused", 1.0), (10.0, "memory_bytes", 1.0)]
    )
    found = otlp_series(frame, origin_s=5.0)
    assert sorted(found) == ["otlp_accepted", "otlp_refused"]
    assert found["otlp_accepted"]["t_s"].tolist() == [5.0]
    assert otlp_series(series([(1.0, "cpu_percent", 3.0)]), 0.0) == {}
    assert unit_of("otlp_bytes_per_s") == "bytes/s" and unit_of("otlp_accepted") == ""


def test_no_data_no_charts(tmp_path):
    empty = pd.DataFrame({"t_s": [], "rate_rps": []})
    inputs = ChartInputs(per_second=empty, target_stages=empty, spectrum=pd.DataFrame())
    files = render_charts(inputs, tmp_path / "charts")
    assert [(f.path, f.skipped) for f in files] == [(None, "no samples")]
    assert chart_specs(inputs)[0].draw is None


def test_safe_label_defuses_mathtext_and_hidden_labels():
    assert safe_label("$\\alpha$ cost") == "\\$\\alpha\\$ cost"
    assert safe_label("_nolegend_") == " _nolegend_"
    assert len(safe_label("x" * 500)) <= 60
