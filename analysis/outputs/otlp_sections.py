"""The report's OTLP delivery section from summary.json: per signal, the counts and the share.

Pure: ``otlp_sections(result)`` gives ``extra_sections`` entries of
``analysis.outputs.report.build_view`` (title, caption, head, rows; strings only).
"""

from __future__ import annotations

from typing import Any

from analysis.judging.result import OtlpSignal, RunResult
from analysis.outputs.formatting import format_count, format_value

FIGURES = (
    ("produced", "produced"),
    ("delivered", "delivered"),
    ("accepted", "accepted at collector"),
    ("refused", "refused attempts"),
    ("retried", "retried"),
    ("dropped", "dropped"),
    ("failed", "failed"),
    ("pending", "pending"),
)


def _share(signal: OtlpSignal) -> str:
    if signal.percent is not None:
        return format_value(signal.percent, "%")
    if signal.low_percent is None:
        return "—"
    return f"{format_value(signal.low_percent, '%')} – {format_value(signal.high_percent, '%')}"


def otlp_sections(result: RunResult) -> list[dict[str, Any]]:
    """The "OTLP delivery" table, when the run counted OTLP items."""
    otlp = result.measurements.server.otlp
    if otlp is None or not otlp.signals:
        return []
    head = ["signal", *(label for _, label in FIGURES), "delivered %", "from"]
    rows = [
        [
            name,
            *(format_count(getattr(signal, figure)) for figure, _ in FIGURES),
            _share(signal),
            signal.basis or "—",
        ]
        for name, signal in otlp.signals.items()
    ]
    deciding = otlp.deciding_signal
    caption = (
        "OTLP export success is items delivered to the collector / items the agent produced, per "
        "signal; the worst signal decides"
        + (f" (here: {deciding})" if deciding else "")
        + ". From the agent's SDK counters: delivered / (delivered + failed + dropped), where "
        "delivered and failed are final outcomes after the exporter's retries, dropped were never "
        "exported (queue full, after shutdown) and pending items (still queued or in flight at "
        "the window's end) are left out. The collector's receiver counts attempts: a batch it "
        "refused and a retry delivered counts as refused and as accepted, so with its counters "
        "alone the share is a range, at least accepted / (accepted + refused). Counts over the "
        "run window from the queries otlp_*_items in prometheus/queries.json; — where a "
        "counter was not collected."
    )
    return [{"title": "OTLP delivery", "caption": caption, "head": head, "rows": rows}]


__all__ = ["otlp_sections"]
