"""LLM-serving measurements of a run: streaming, token usage, goodput, proxy overhead, cache.

One composer over the pure modules (``streaming``, ``usage``, ``goodput``, ``proxytime``,
``cacheeffect``): it measures a run's judged window, names the measurement behind each of their
verdict metrics, and builds their part of ``summary.json``'s ``measurements``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analysis.contract.schema import SCENARIO_FILE, VERDICT_UNITS
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
from analysis.measuring.usage import TokenUsage, tally_usage, usage_from, usage_summary
from analysis.reading.errors import RunDirError
from analysis.reading.rundir import RunData

# Streaming figures judged by percentile: ``<family>_<p50|p95|p99>_ms`` where VERDICT_UNITS has it.
STREAM_VERDICT_FAMILIES = ("ttft", "itl", "itl_gap", "tpot", "e2e")


@dataclass(frozen=True)
class LlmMeasurements:
    """What a run says about streaming, goodput, the proxy's own time and its cache."""

    streaming: StreamMeasurements
    goodput: Goodput
    proxy: ProxyTime
    cache: CacheEffect
    usage: TokenUsage


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
        tally_usage(samples, window, figures, t)
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
        usage=usage_from(t, window),
    )


def llm_verdict_measurements(llm: LlmMeasurements) -> dict[str, Measured]:
    """The measurement each of these verdict metrics is judged on (``VERDICT_UNITS``)."""
    streaming = llm.streaming
    return {
        **{
            f"{family}_{q}_ms": streaming.measured(f"{family}_{q}")
            for family in STREAM_VERDICT_FAMILIES
            for q in ("p50", "p95", "p99")
            if f"{family}_{q}_ms" in VERDICT_UNITS
        },
        "tokens_per_s_p50": streaming.measured("tokens_per_s_p50"),
        "usage_output_tokens_per_s": llm.usage.output_tokens_per_s(),
        "usage_decode_tokens_per_s": llm.usage.decode_tokens_per_s(),
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
        "usage": usage_summary(llm.usage),
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
