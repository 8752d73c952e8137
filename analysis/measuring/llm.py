"""LLM-serving measurements of a run: streaming, goodput, proxy overhead and cache effect.

One composer over the pure modules (``streaming``, ``goodput``, ``proxytime``, ``cacheeffect``):
it measures a run's judged window, names the measurement behind each of their verdict metrics,
and builds their part of ``summary.json``'s ``measurements``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analysis.contract.schema import SCENARIO_FILE
from analysis.measuring.cacheeffect import CacheEffect, cache_from, cache_summary, tally_cache
from analysis.measuring.client import Measured, Window
from analysis.measuring.goodput import (
    Goodput,
    Slo,
    goodput_from,
    goodput_summary,
    resolve_slo,
    tally_goodput,
)
from analysis.measuring.proxytime import ProxyTime, proxy_summary, proxy_time_from, tally_proxy_time
from analysis.measuring.streaming import (
    StreamMeasurements,
    per_request,
    stream_kinds,
    stream_summary,
    streamed_mask,
    streaming_from,
    tally_streaming,
)
from analysis.measuring.tally import Tally
from analysis.reading.errors import RunDirError
from analysis.reading.rundir import RunData


@dataclass(frozen=True)
class LlmMeasurements:
    """What a run says about streaming, goodput, the proxy's own time and its cache."""

    streaming: StreamMeasurements
    goodput: Goodput
    proxy: ProxyTime
    cache: CacheEffect


def run_slo(run: RunData) -> Slo:
    """The goodput thresholds of ``run``; RunDirError for a malformed ``slo`` section."""
    try:
        return resolve_slo(run.scenario, run.targets)
    except ValueError as exc:
        raise RunDirError(run.run_dir / SCENARIO_FILE, str(exc), "slo") from None


def measure_llm(run: RunData, window: Window | None) -> LlmMeasurements:
    """Measure the samples of ``run`` in memory over ``window``; RunDirError for a bad ``slo``."""
    slo, samples = run_slo(run), run.samples
    t = Tally()
    if len(samples):
        figures = per_request(samples, streamed_mask(samples, stream_kinds(run.scenario)))
        tally_streaming(samples, window, figures, t)
        tally_goodput(samples, window, slo, figures, t)
        tally_proxy_time(samples, window, figures["streamed"].to_numpy(), t)
        tally_cache(samples, window, figures["ttft_us"].to_numpy(), t)
    else:
        tally_goodput(samples, window, slo, samples, t)
    return llm_from(t, window, slo)


def llm_from(t: Tally, window: Window | None, slo: Slo) -> LlmMeasurements:
    """The LLM measurements of the blocks a sweep added to ``t``."""
    return LlmMeasurements(
        streaming=streaming_from(t),
        goodput=goodput_from(t, window, slo),
        proxy=proxy_time_from(t),
        cache=cache_from(t),
    )


def llm_verdict_measurements(llm: LlmMeasurements) -> dict[str, Measured]:
    """The measurement each of these verdict metrics is judged on (``VERDICT_UNITS``)."""
    streaming = llm.streaming
    return {
        "ttft_p50_ms": streaming.measured("ttft_p50"),
        "ttft_p95_ms": streaming.measured("ttft_p95"),
        "ttft_p99_ms": streaming.measured("ttft_p99"),
        "itl_p95_ms": streaming.measured("itl_p95"),
        "itl_p99_ms": streaming.measured("itl_p99"),
        "tokens_per_s_p50": streaming.measured("tokens_per_s_p50"),
        "stream_completion": streaming.completion,
        "goodput_percent": llm.goodput.percent,
        "proxy_overhead_p95_ms": llm.proxy.overhead_p95(),
        "cache_hit_percent": llm.cache.hit_percent,
    }


def llm_summary(llm: LlmMeasurements, by_kind: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Keys added to ``measurements``: goodput_rps, goodput, streaming, proxy, cache_effect, and
    ``by_kind`` with TTFT P50/P95/P99 and tokens/s P50 for the kinds that stream."""
    tagged = {
        kind: {**figures, **llm.streaming.by_kind.get(kind, {})}
        for kind, figures in by_kind.items()
    }
    return {
        "goodput_rps": llm.goodput.rate_rps.value,
        "goodput": goodput_summary(llm.goodput),
        "streaming": stream_summary(llm.streaming),
        "proxy": proxy_summary(llm.proxy),
        "cache_effect": cache_summary(llm.cache),
        "by_kind": tagged,
    }


__all__ = [
    "LlmMeasurements",
    "llm_from",
    "llm_summary",
    "llm_verdict_measurements",
    "measure_llm",
    "run_slo",
]
