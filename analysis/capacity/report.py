"""The capacity folder's outputs, each a function of ``capacity.json``: text, Markdown, HTML, chart.

The chart plots every probe run's P95 and P99 against its rate, coloured by the rate's verdict,
with the latency targets and the capacity interval drawn across it.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes

from analysis.capacity.document import CapacityDoc, ProbeDoc, headline
from analysis.capacity.search import FAIL, PASS
from analysis.contract.targets import Target
from analysis.outputs.charts import file_store, render_figures
from analysis.outputs.chartspec import ChartSpec
from analysis.outputs.ci import STATUS_ICONS, md
from analysis.outputs.formatting import format_value
from analysis.outputs.templating import environment

CHART_NAME = "capacity-probes"
COLOURS = {PASS: "#1a7f37", FAIL: "#cf222e"}
OTHER_COLOUR = "#9a6700"
ICONS = {**STATUS_ICONS, "FOUND": "✅", "AT_LEAST": "⬆️", "BELOW": "⬇️", "CANNOT_JUDGE": "⚠️"}


def _figure(probe: ProbeDoc, name: str) -> list[float]:
    values = [t.figures.get(name) for t in probe.trials]
    return [float(v) for v in values if v is not None]


def probe_rows(doc: CapacityDoc) -> list[list[str]]:
    """One row a probe, in the order run: #, rate, verdict, margin, trials, P50/P95/P99, why."""
    rows = []
    for i, probe in enumerate(doc.probes, 1):
        cells = [str(i), f"{probe.rate_rps:g}", probe.status]
        cells.append("—" if probe.margin is None else f"{probe.margin * 100:+.0f} %")
        cells.append(" ".join(t.status for t in probe.trials))
        for name in ("p50_ms", "p95_ms", "p99_ms"):
            values = _figure(probe, name)
            cells.append(" / ".join(format_value(v, "ms") for v in values) or "—")
        reasons = [r for t in probe.trials for r in t.reasons]
        cells.append("; ".join(dict.fromkeys(reasons)))
        rows.append(cells)
    return rows


PROBE_HEAD = ["#", "rate req/s", "verdict", "margin", "trials", "P50", "P95", "P99", "why"]


def format_capacity(doc: CapacityDoc) -> str:
    """The terminal's text: the headline, why the rate above failed, and the probes."""
    lines = [f"edgeperf capacity: {doc.scenario}: {doc.status}: {headline(doc)}"]
    if doc.why_above_failed and doc.high_rps is not None:
        lines.append(f"why {doc.high_rps:g} req/s failed:")
        lines += [f"  - {why}" for why in doc.why_above_failed]
    if not doc.probes:
        return "\n".join(lines)
    rows = [row[:-1] for row in probe_rows(doc)]
    head = PROBE_HEAD[:-1]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in [head, ["-" * w for w in widths], *rows]]  # fmt: skip
    return "\n".join(lines)


def render_summary_md(doc: CapacityDoc) -> str:
    """A Markdown page for a CI job summary: the capacity, why above failed, every probe."""
    lines = [f"## {ICONS.get(doc.status, '')} edgeperf capacity {md(doc.scenario)}: {doc.status}"]
    lines += ["", md(headline(doc)), ""]
    if doc.why_above_failed and doc.high_rps is not None:
        lines += [f"Why {doc.high_rps:g} req/s failed:", ""]
        lines += [f"- {md(why)}" for why in doc.why_above_failed] + [""]
    lines += ["### Probes", ""]
    lines.append("| " + " | ".join(PROBE_HEAD) + " |")
    lines.append("|" + "---|" * len(PROBE_HEAD))
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in probe_rows(doc)]
    if doc.left_out:
        lines += ["", "Targets left out of the probes:", "", *(f"- {md(n)}" for n in doc.left_out)]
    return "\n".join(lines) + "\n"


def plot_probes(ax: Axes, doc: CapacityDoc) -> None:
    """P95 (circles) and P99 (triangles) of every probe run against its rate, by verdict; the
    latency targets as dashed lines; the capacity interval shaded."""
    for probe in doc.probes:
        colour = COLOURS.get(probe.status, OTHER_COLOUR)
        for name, marker in (("p95_ms", "o"), ("p99_ms", "^")):
            values = _figure(probe, name)
            ax.scatter([probe.rate_rps] * len(values), values, marker=marker, color=colour, s=24)
    for metric, style in (("latency_p95_ms", "--"), ("latency_p99_ms", ":")):
        if metric in doc.targets:
            bound = Target.parse(doc.targets[metric]).value
            ax.axhline(bound, color="#57606a", linestyle=style, linewidth=1,
                       label=f"{metric} {doc.targets[metric]}")  # fmt: skip
    if doc.low_rps > 0 and doc.high_rps is not None:
        ax.axvspan(
            doc.low_rps, doc.high_rps, color="#0969da", alpha=0.15, label="capacity interval"
        )
    elif doc.low_rps > 0:
        ax.axvline(doc.low_rps, color="#0969da", linewidth=1.5, label="capacity (at least)")
    for status, colour in COLOURS.items():
        ax.scatter([], [], color=colour, label=status)
    ax.scatter([], [], marker="o", color="#888888", label="P95")
    ax.scatter([], [], marker="^", color="#888888", label="P99")
    latencies = [v for p in doc.probes for v in _figure(p, "p99_ms") + _figure(p, "p95_ms")]
    if latencies and min(latencies) > 0 and max(latencies) / min(latencies) > 50:
        ax.set_yscale("log")
    ax.set_xlabel("request rate (req/s)")
    ax.set_ylabel("response time (ms)")
    ax.legend(loc="upper left", fontsize=7, frameon=False, ncols=2)


def render_capacity_chart(doc: CapacityDoc, folder: Path) -> Path | None:
    """capacity-probes.png in ``folder``; None when no probe ran."""
    if not doc.probes:
        return None
    spec = ChartSpec(
        CHART_NAME,
        "Probes",
        "P95 and P99 of each probe run against its rate, coloured by the rate's verdict.",
        draw=lambda ax: plot_probes(ax, doc),
    )
    (chart,) = render_figures([spec], file_store(folder, "."))
    return chart.path


def render_html(doc: CapacityDoc, chart: str | None) -> str:
    """The capacity page (pure)."""
    badge = {PASS: "pass", FAIL: "fail", "FOUND": "pass", "AT_LEAST": "pass", "BELOW": "fail"}
    return (
        environment()
        .get_template("capacity.html")
        .render(
            doc=doc,
            headline=headline(doc),
            chart=chart,
            head=PROBE_HEAD,
            rows=probe_rows(doc),
            runs=[[t.run_dir for t in p.trials] for p in doc.probes],
            badge=badge,
        )
    )


__all__ = [
    "CHART_NAME",
    "format_capacity",
    "plot_probes",
    "probe_rows",
    "render_capacity_chart",
    "render_html",
    "render_summary_md",
]
